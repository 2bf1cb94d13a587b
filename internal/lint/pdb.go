package lint

import (
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
			Summary: "a PodDisruptionBudget allows at least one eviction at the replica count of the workload it covers"},
		{ID: "pdb-missing", Severity: Warning, check: checkPDBMissing,
			Summary: "a serving Deployment, StatefulSet, ReplicaSet or Rollout with 2 or more replicas has a PodDisruptionBudget"},
		{ID: "pdb-unhealthy-eviction", Severity: Warning, check: checkPDBUnhealthyEviction,
			Summary: "PodDisruptionBudgets set unhealthyPodEvictionPolicy: AlwaysAllow"},
	}
}

func checkPDBSelector(ix *index, e *emitter) {
	if !ix.hasPods() {
		return // nothing to match against: the pods live elsewhere
	}
	for _, p := range ix.pdbs {
		if ix.selectsAnyPods(p.obj, labelSelector(p.v.Spec.Selector)) {
			continue
		}
		e.add(p.obj, "spec.selector",
			"the selector matches the pods of no workload in the input: the budget protects nothing, and node drains evict every pod at once",
			"copy the selector of the workload it protects (spec.selector.matchLabels), in the same namespace")
	}
}

// disruptionsAllowed is how many of replicas pods the budget lets the
// eviction API remove, with the controller's rounding (up, for both fields).
func disruptionsAllowed(p *policyv1.PodDisruptionBudget, replicas int32) (int, bool) {
	switch {
	case p.Spec.MaxUnavailable != nil:
		n, err := intstr.GetScaledValueFromIntOrPercent(p.Spec.MaxUnavailable, int(replicas), true)
		return n, err == nil
	case p.Spec.MinAvailable != nil:
		n, err := intstr.GetScaledValueFromIntOrPercent(p.Spec.MinAvailable, int(replicas), true)
		return int(replicas) - n, err == nil
	}
	return 1, true
}

func checkPDBBlocksEviction(ix *index, e *emitter) {
	for _, p := range ix.pdbs {
		for _, w := range ix.podsSelectedBy(p.obj, labelSelector(p.v.Spec.Selector)) {
			if !w.scalable() {
				continue // a DaemonSet's pods are not evicted by drains; a Job's are not counted
			}
			r := ix.replicas(w)
			if n, ok := disruptionsAllowed(p.v, r); !ok || n > 0 {
				continue
			}
			field := "spec.minAvailable"
			if p.v.Spec.MaxUnavailable != nil {
				field = "spec.maxUnavailable"
			}
			e.addf(p.obj, field, "use maxUnavailable: 1",
				"with %d replicas of %s %s the budget allows no eviction: node drains and cluster upgrades hang until someone deletes the budget", r, w.kind(), w.obj.Name)
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
			if !ix.selectsAnyPods(p.obj, sel) || (sel != nil && sel.Matches(d.podLabels())) {
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
