package lint

import (
	corev1 "k8s.io/api/core/v1"
)

// Under memory pressure the kubelet evicts first the pods that use the most
// memory beyond their requests. A pod with no memory limit, or a limit above
// its request, can be that pod, and an eviction does not wait for a drain: it
// gives the pod its own short grace period, or none, and the requests in
// flight fail. A limit equal to the request keeps the pod within what the
// scheduler reserved for it, so pressure on the node is never its doing.
func resourceRules() []Rule {
	return []Rule{
		{ID: "memory-limit", Severity: Warning, check: checkMemoryLimit,
			Summary: "every container's memory limit equals its memory request, so node pressure never evicts a pod mid-drain for using more than it asked for (Jobs and CronJobs only when a Service selects them)"},
	}
}

const memoryFix = "set resources.limits.memory equal to resources.requests.memory, sized for the container's peak"

func checkMemoryLimit(ix *index, e *emitter) {
	ix.forEachContainer(func(w *workload, c *corev1.Container) {
		if w.runsToCompletion() && !ix.servingWorkload(w) {
			return // a Job's pod evicted under pressure is retried, and drops no request
		}
		field := w.containerPath(c) + ".resources.limits.memory"
		limit, hasLimit := c.Resources.Limits[corev1.ResourceMemory]
		if !hasLimit {
			e.addf(w.obj, field, memoryFix,
				"container %s has no memory limit: it can grow into memory the node does not have, and once above its request it is among the first pods the kubelet evicts under pressure, drain or not", c.Name)
			return
		}
		// The API server sets a missing request to the limit.
		request, hasRequest := c.Resources.Requests[corev1.ResourceMemory]
		if !hasRequest || limit.Cmp(request) <= 0 {
			return
		}
		e.addf(w.obj, field, memoryFix,
			"container %s may use memory up to %s but requests only %s: above its request, it is among the first pods the kubelet evicts under pressure, drain or not",
			c.Name, limit.String(), request.String())
	})
}
