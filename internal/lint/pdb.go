package lint

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	policyv1 "k8s.io/api/policy/v1"
)

// A PDB does not govern rolling updates; it gates evictions (node drains,
// cluster upgrades). These rules make sure it protects the pods it names and
// does not block drains forever.
func pdbRules() []Rule {
	return []Rule{
		{ID: "pdb-selector", Severity: Error, check: checkPDBSelector,
			Summary: "every PodDisruptionBudget selects the pods of a workload in the input"},
		{ID: "pdb-blocks-eviction", Severity: Error, check: checkPDBBlocksEviction,
			Summary: "a PodDisruptionBudget allows at least one eviction at the replica count of the workloads it covers (the HPA's minReplicas when one scales them)"},
		{ID: "pdb-allows-outage", Severity: Warning, check: checkPDBAllowsOutage,
			Summary: "a PodDisruptionBudget of a serving workload with 2 or more replicas keeps at least one pod through evictions, so a drain cannot empty it"},
		{ID: "pdb-overlap", Severity: Error, check: checkPDBOverlap,
			Summary: "each pod is selected by at most one PodDisruptionBudget, since the Eviction API refuses to evict a pod that two budgets select"},
		{ID: "pdb-no-scale", Severity: Error, check: checkPDBNoScale,
			Summary: "a PodDisruptionBudget with maxUnavailable or a percentage selects no DaemonSet, Job or CronJob pods, whose owners have no scale for the disruption controller to read"},
		{ID: "pdb-missing", Severity: Warning, check: checkPDBMissing,
			Summary: "a serving Deployment, StatefulSet, ReplicaSet, ReplicationController or Rollout with 2 or more replicas has a PodDisruptionBudget"},
		{ID: "pdb-unhealthy-eviction", Severity: Warning, check: checkPDBUnhealthyEviction,
			Summary: "PodDisruptionBudgets set unhealthyPodEvictionPolicy: AlwaysAllow"},
	}
}

func checkPDBSelector(ix *index, e *emitter) {
	for _, p := range ix.pdbs {
		sel := labelSelector(p.v.Spec.Selector)
		if !ix.hasPodsIn(p.obj) || ix.selectsAnyPods(p.obj, sel) || (sel != nil && ix.operatorMayMake(p.obj, sel)) {
			continue // pods that live elsewhere, or made by an operator, or found
		}
		e.addf(p.obj, "spec.selector", "copy the selector of the workload it protects (spec.selector.matchLabels), in the same namespace",
			"no pod of this input matches the selector in %s: unless pods from outside the input carry these labels, the budget protects nothing, and node drains evict its pods at once", namespaceName(p.obj))
	}
}

// disruptionsAllowed is how many of replicas pods the budget lets the
// eviction API remove, with the disruption controller's rounding: a
// percentage resolves against the expected pod count and rounds up, for
// maxUnavailable as for minAvailable (getExpectedPodCount in
// pkg/controller/disruption).
func disruptionsAllowed(p *policyv1.PodDisruptionBudget, replicas int32) (int, bool) {
	switch {
	case p.Spec.MaxUnavailable != nil:
		n, err := intstr.GetScaledValueFromIntOrPercent(p.Spec.MaxUnavailable, int(replicas), true)
		return min(n, int(replicas)), err == nil
	case p.Spec.MinAvailable != nil:
		n, err := intstr.GetScaledValueFromIntOrPercent(p.Spec.MinAvailable, int(replicas), true)
		return int(replicas) - n, err == nil
	}
	return 1, true
}

// budgetField is the field of the budget that sets its allowance.
func budgetField(p *policyv1.PodDisruptionBudget) string {
	if p.Spec.MaxUnavailable != nil {
		return "spec.maxUnavailable"
	}
	return "spec.minAvailable"
}

// needsScale reports whether the disruption controller must read the scale
// of the pods' owners to compute the budget: for maxUnavailable and for a
// percentage minAvailable. An integer minAvailable counts the pods instead.
func needsScale(p *policyv1.PodDisruptionBudget) bool {
	return p.Spec.MaxUnavailable != nil || (p.Spec.MinAvailable != nil && p.Spec.MinAvailable.Type == intstr.String)
}

// cover is what one budget protects: the workloads whose pods it selects
// that drains evict and that run a replica count, and their pods at the low
// point (each one's HPA minimum, else spec.replicas). The disruption
// controller sums the scale of every owner the budget's pods have, so a
// budget across a stable Deployment and its canary counts both.
type cover struct {
	workloads []*workload
	pods      int32
}

func (ix *index) coverOf(p typed[*policyv1.PodDisruptionBudget]) cover {
	var c cover
	for _, w := range ix.podsSelectedBy(p.obj, labelSelector(p.v.Spec.Selector)) {
		if !w.scalable() {
			continue // a DaemonSet's pods are not evicted by drains; a Job's are not counted (pdb-no-scale)
		}
		c.workloads = append(c.workloads, w)
		c.pods += ix.replicas(w)
	}
	return c
}

// describe names the pods of the cover for messages: "3 replicas of
// Deployment web", with the autoscaler whose minimum sets the count.
func (ix *index) describe(c cover) string {
	parts := make([]string, len(c.workloads))
	for i, w := range c.workloads {
		parts[i] = fmt.Sprintf("%s of %s %s", plural(int(ix.replicas(w)), "replica"), w.kind(), w.obj.Name)
		if h, ok := ix.hpaFor(w); ok {
			parts[i] += fmt.Sprintf(" (the minReplicas of HorizontalPodAutoscaler %s)", h.obj.Name)
		}
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return fmt.Sprintf("%d pods across %s", c.pods, strings.Join(parts, " and "))
}

func checkPDBBlocksEviction(ix *index, e *emitter) {
	for _, p := range ix.pdbs {
		c := ix.coverOf(p)
		if len(c.workloads) == 0 || len(ix.noScale(p)) > 0 {
			continue // nothing drains evict, or the controller cannot count them: pdb-no-scale
		}
		if n, ok := disruptionsAllowed(p.v, c.pods); !ok || n > 0 {
			continue
		}
		e.addf(p.obj, budgetField(p.v), "use maxUnavailable: 1",
			"with %s the budget allows no eviction: node drains and cluster upgrades hang until someone deletes the budget", ix.describe(c))
	}
}

// checkPDBAllowsOutage is the other end of pdb-blocks-eviction: a budget
// that lets the eviction API take every pod it covers at once protects
// nothing, and a drain of the node (or nodes) holding them leaves no ready
// pod, however long each pod drains. One replica is replicas-min's finding,
// which no budget can fix.
func checkPDBAllowsOutage(ix *index, e *emitter) {
	for _, p := range ix.pdbs {
		c := ix.coverOf(p)
		if c.pods < 2 || !slices.ContainsFunc(c.workloads, ix.servingWorkload) || len(ix.noScale(p)) > 0 {
			continue
		}
		n, ok := disruptionsAllowed(p.v, c.pods)
		if !ok || n < int(c.pods) {
			continue
		}
		e.addf(p.obj, budgetField(p.v), "use maxUnavailable: 1, so evictions wait for each replacement to be ready",
			"with %s the budget allows %s at once: a drain of the node (or nodes) holding them evicts every pod, and the service has no ready pod until the replacements start", ix.describe(c), plural(n, "eviction"))
	}
}

// pdbsFor returns the budgets that select w's pods.
func (ix *index) pdbsFor(w *workload) []typed[*policyv1.PodDisruptionBudget] {
	return selecting(ix.pdbs, w, func(p *policyv1.PodDisruptionBudget) labels.Selector { return labelSelector(p.Spec.Selector) })
}

// checkPDBOverlap: the eviction subresource answers 500 "This pod has more
// than one PodDisruptionBudget" for a pod two budgets select
// (pkg/registry/core/pod/storage/eviction.go), so kubectl drain stops with
// an error on it and autoscalers never empty its node. Each budget after
// the first on a workload is reported once.
func checkPDBOverlap(ix *index, e *emitter) {
	seen := map[[2]*Object]bool{}
	for _, w := range ix.workloads {
		ps := ix.pdbsFor(w)
		for _, p := range ps[min(1, len(ps)):] {
			if seen[[2]*Object{ps[0].obj, p.obj}] {
				continue
			}
			seen[[2]*Object{ps[0].obj, p.obj}] = true
			e.addf(p.obj, "spec.selector", "keep one budget per workload: narrow one selector to pods the other does not select, or delete one of the two",
				"PodDisruptionBudget %s selects the pods of %s %s too: the Eviction API refuses (500) to evict a pod that two budgets select, so every drain of their nodes fails", ps[0].obj.Name, w.kind(), w.obj.Name)
		}
	}
}

// noScale lists the workloads of p's selection that break it when the
// disruption controller must read their owners' scale, which DaemonSets
// and Jobs lack: every Job or CronJob (drains evict their pods), and a
// DaemonSet when the budget also covers pods that drains evict (on its own,
// drains skip its pods).
func (ix *index) noScale(p typed[*policyv1.PodDisruptionBudget]) []*workload {
	if !needsScale(p.v) {
		return nil
	}
	selected := ix.podsSelectedBy(p.obj, labelSelector(p.v.Spec.Selector))
	drained := slices.ContainsFunc(selected, (*workload).scalable)
	var out []*workload
	for _, w := range selected {
		if w.runsToCompletion() || (w.daemonSet != nil && drained) {
			out = append(out, w)
		}
	}
	return out
}

// checkPDBNoScale: for maxUnavailable or a percentage minAvailable the
// disruption controller sums the scale of every owner of the selected pods.
// A DaemonSet or a Job has no scale subresource, so the whole budget fails
// ("does not implement the scale subresource"), its disruptionsAllowed
// stays 0, and the eviction API refuses every pod it selects, those of a
// Deployment beside them included.
func checkPDBNoScale(ix *index, e *emitter) {
	for _, p := range ix.pdbs {
		how := "maxUnavailable"
		if p.v.Spec.MaxUnavailable == nil {
			how = "a percentage minAvailable"
		}
		for _, w := range ix.noScale(p) {
			fix := "narrow the selector to the labels of the workload it protects (its spec.selector), which the Job's pods do not carry; to budget the Job's pods, use an integer minAvailable, which counts pods instead of reading a scale"
			if w.daemonSet != nil {
				fix = "narrow the selector to the pods of the workload it protects (a DaemonSet needs no budget: drains skip its pods)"
			}
			e.addf(p.obj, "spec.selector", fix,
				"the budget selects the pods of %s %s, which has no scale subresource: with %s the disruption controller cannot compute the budget, allows no eviction, and drains hang on every pod it selects", w.kind(), w.obj.Name, how)
		}
	}
}

// checkPDBMissing stays quiet where a budget of the namespace selects no
// pods: that budget was most likely meant for this workload, and
// pdb-selector already reports the one mistake. DaemonSets need none (drains
// skip their pods), nor do Jobs (they run to completion).
func checkPDBMissing(ix *index, e *emitter) {
	for _, d := range ix.workloads {
		if !d.scalable() || ix.replicas(d) < 2 || !ix.servingWorkload(d) {
			continue
		}
		covered := false
		for _, p := range ix.pdbs {
			sel := labelSelector(p.v.Spec.Selector)
			if !sameNamespace(p.obj, d.obj) {
				continue
			}
			if (!ix.selectsAnyPods(p.obj, sel) && (sel == nil || !ix.operatorMayMake(p.obj, sel))) || (sel != nil && sel.Matches(d.podLabels())) {
				covered = true
			}
		}
		if !covered {
			e.add(d.obj, "spec.selector",
				"no PodDisruptionBudget selects these pods: a node drain may evict all of them at once",
				"add a PodDisruptionBudget with maxUnavailable: 1 and the workload's selector")
		}
	}
}

// checkPDBUnhealthyEviction needs Kubernetes 1.27, where the field is on by
// default (GA in 1.31).
func checkPDBUnhealthyEviction(ix *index, e *emitter) {
	if !ix.atLeast(27) {
		return
	}
	for _, p := range ix.pdbs {
		if pol := p.v.Spec.UnhealthyPodEvictionPolicy; pol != nil && *pol == policyv1.AlwaysAllow {
			continue
		}
		e.add(p.obj, "spec.unhealthyPodEvictionPolicy",
			"pods that are not ready count against the budget: a crash-looping pod can block every node drain",
			"set unhealthyPodEvictionPolicy: AlwaysAllow (GA in Kubernetes 1.31)")
	}
}
