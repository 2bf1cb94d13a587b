package lint

import (
	"fmt"
	"slices"
)

// templateHashKey is the label the Deployment controller puts on each
// revision's pods. Naming it in matchLabelKeys makes placement rules count
// only pods of the same revision, so old pods do not block new ones.
const templateHashKey = "pod-template-hash"

// Releases where matchLabelKeys is on by default: in topology spread
// constraints (beta), and in pod affinity terms (beta; GA in 1.33).
const (
	spreadMatchLabelKeysMinor   = 27
	affinityMatchLabelKeysMinor = 31
)

func placementRules() []Rule {
	return []Rule{
		{ID: "anti-affinity-deadlock", Severity: Error, check: checkAntiAffinityDeadlock,
			Summary: "no required pod anti-affinity against the pod's own labels with maxSurge > 0, unless it sets matchLabelKeys: [pod-template-hash]"},
		{ID: "spread-match-label-keys", Severity: Warning, check: checkSpreadMatchLabelKeys,
			Summary: "topologySpreadConstraints over the pod's own labels set matchLabelKeys: [pod-template-hash]"},
	}
}

func checkAntiAffinityDeadlock(ix *index, e *emitter) {
	for _, w := range ix.workloads {
		aff := w.spec().Affinity
		if w.deployment == nil || aff == nil || aff.PodAntiAffinity == nil || !rolling(w.deployment) {
			continue
		}
		surge, _, err := fenceposts(w.deployment, ix.replicas(w))
		if err != nil || surge == 0 {
			continue
		}
		own := w.podLabels()
		for i, term := range aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
			sel := labelSelector(term.LabelSelector)
			if sel == nil || !sel.Matches(own) || len(term.Namespaces) > 0 || term.NamespaceSelector != nil ||
				(slices.Contains(term.MatchLabelKeys, templateHashKey) && ix.atLeast(affinityMatchLabelKeysMinor)) {
				continue // before 1.31, the API server drops matchLabelKeys and the deadlock stays
			}
			fix := "use preferredDuringSchedulingIgnoredDuringExecution (weight 100) with a topologySpreadConstraint, or add matchLabelKeys: [pod-template-hash] to the term (Kubernetes ≥ 1.33) so only pods of the same revision repel"
			if !ix.atLeast(affinityMatchLabelKeysMinor) {
				fix = "use preferredDuringSchedulingIgnoredDuringExecution (weight 100) with a topologySpreadConstraint (matchLabelKeys in affinity terms needs Kubernetes 1.31)"
			}
			e.add(w.obj, w.path(fmt.Sprintf("affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[%d]", i)),
				fmt.Sprintf("required anti-affinity on %s allows one of these pods per domain, old or new: once replicas equal the schedulable domains, the surge pod stays Pending and the rollout never completes (with maxUnavailable 0 no old pod ever leaves)", term.TopologyKey),
				fix)
		}
	}
}

func checkSpreadMatchLabelKeys(ix *index, e *emitter) {
	if !ix.atLeast(spreadMatchLabelKeysMinor) {
		return
	}
	for _, w := range ix.workloads {
		if w.deployment == nil {
			continue // pod-template-hash is the Deployment controller's label
		}
		own := w.podLabels()
		for i, tsc := range w.spec().TopologySpreadConstraints {
			sel := labelSelector(tsc.LabelSelector)
			if sel == nil || !sel.Matches(own) || slices.Contains(tsc.MatchLabelKeys, templateHashKey) {
				continue
			}
			e.addf(w.obj, w.path(fmt.Sprintf("topologySpreadConstraints[%d]", i)), "add matchLabelKeys: [pod-template-hash]",
				"the spread over %s counts old and new pods together: mid-rollout, old pods skew where new ones go, and the new revision ends up unevenly spread", tsc.TopologyKey)
		}
	}
}
