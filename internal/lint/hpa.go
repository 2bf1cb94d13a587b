package lint

import (
	"slices"
	"strings"
)

func hpaRules() []Rule {
	return []Rule{
		{ID: "hpa-target", Severity: Error, check: checkHPATarget,
			Summary: "every HorizontalPodAutoscaler targets a workload (Deployment, StatefulSet, ReplicaSet, Rollout) of the input"},
		{ID: "hpa-duplicate", Severity: Error, check: checkHPADuplicate,
			Summary: "at most one HorizontalPodAutoscaler scales each workload"},
		{ID: "hpa-replicas-conflict", Severity: Error, check: checkHPAReplicasConflict,
			Summary: "a workload scaled by an HPA has no spec.replicas, which every apply would reset"},
	}
}

func checkHPATarget(ix *index, e *emitter) {
	if len(ix.workloads) == 0 {
		return // the workloads live elsewhere
	}
	for _, h := range ix.hpas {
		if !slices.Contains([]string{"Deployment", "StatefulSet", "ReplicaSet", "Rollout"}, h.targetKind) {
			continue
		}
		found, elsewhere := false, []string{}
		for _, w := range ix.workloads {
			switch {
			case w.kind() != h.targetKind || w.obj.Name != h.targetName:
			case sameNamespace(w.obj, h.obj):
				found = true
			default:
				elsewhere = append(elsewhere, namespaceName(w.obj))
			}
		}
		switch {
		case found:
		case len(elsewhere) > 0:
			e.addf(h.obj, "metadata.namespace", "put the autoscaler in the workload's namespace (in kustomize, set namespace: in the kustomization that adds it)",
				"the autoscaler is in %s but %s %s is in %s: scaleTargetRef resolves in the autoscaler's own namespace, so it scales nothing",
				namespaceName(h.obj), h.targetKind, h.targetName, strings.Join(elsewhere, ", "))
		default:
			e.addf(h.obj, "spec.scaleTargetRef.name", "name the workload as rendered (with any kustomize prefix or suffix), in the same namespace",
				"%s %s is not in the input: the autoscaler scales nothing", h.targetKind, h.targetName)
		}
	}
}

// checkHPADuplicate reports every autoscaler after the first on one
// workload: each computes its own replica count and writes it, so the
// workload flaps between them.
func checkHPADuplicate(ix *index, e *emitter) {
	for _, w := range ix.workloads {
		hs := ix.hpasFor(w)
		for _, h := range hs[min(1, len(hs)):] {
			e.addf(h.obj, "spec.scaleTargetRef", "keep one autoscaler per workload, with every metric in it (autoscaling/v2 takes several and scales to the highest)",
				"HorizontalPodAutoscaler %s also scales %s %s: the two overwrite each other's replica count, and the pods are created and deleted as they alternate", hs[0].obj.Name, w.kind(), w.obj.Name)
		}
	}
}

func checkHPAReplicasConflict(ix *index, e *emitter) {
	for _, w := range ix.workloads {
		h, ok := ix.hpaFor(w)
		if !ok || w.replicas == nil {
			continue
		}
		e.addf(w.obj, "spec.replicas", "remove spec.replicas from the manifest (in kustomize, a JSON patch `op: remove, path: /spec/replicas`); the HPA's minReplicas sets the floor",
			"HorizontalPodAutoscaler %s scales this %s, but every apply resets it to %d replicas: a scaled-up service loses pods on each deploy", h.obj.Name, w.kind(), *w.replicas)
	}
}
