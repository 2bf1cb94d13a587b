package lint

import "strings"

func hpaRules() []Rule {
	return []Rule{
		{ID: "hpa-target", Severity: Error, check: checkHPATarget,
			Summary: "every HorizontalPodAutoscaler targets a Deployment of the input"},
		{ID: "hpa-replicas-conflict", Severity: Error, check: checkHPAReplicasConflict,
			Summary: "a Deployment scaled by an HPA has no spec.replicas, which every apply would reset"},
	}
}

func checkHPATarget(ix *index, e *emitter) {
	if len(ix.deployments) == 0 {
		return // the workloads live elsewhere
	}
	for _, h := range ix.hpas {
		if h.targetKind != "Deployment" {
			continue
		}
		found, elsewhere := false, []string{}
		for _, d := range ix.deployments {
			switch {
			case d.obj.Name != h.targetName:
			case sameNamespace(d.obj, h.obj):
				found = true
			default:
				elsewhere = append(elsewhere, namespaceName(d.obj))
			}
		}
		switch {
		case found:
		case len(elsewhere) > 0:
			e.addf(h.obj, "metadata.namespace", "put the autoscaler in the Deployment's namespace (in kustomize, set namespace: in the kustomization that adds it)",
				"the autoscaler is in %s but Deployment %s is in %s: scaleTargetRef resolves in the autoscaler's own namespace, so it scales nothing",
				namespaceName(h.obj), h.targetName, strings.Join(elsewhere, ", "))
		default:
			e.addf(h.obj, "spec.scaleTargetRef.name", "name the Deployment as rendered (with any kustomize prefix or suffix), in the same namespace",
				"Deployment %s is not in the input: the autoscaler scales nothing", h.targetName)
		}
	}
}

func checkHPAReplicasConflict(ix *index, e *emitter) {
	for _, d := range ix.deployments {
		h, ok := ix.hpaFor(d)
		if !ok || d.v.Spec.Replicas == nil {
			continue
		}
		e.addf(d.obj, "spec.replicas", "remove spec.replicas from the manifest (in kustomize, a JSON patch `op: remove, path: /spec/replicas`); the HPA's minReplicas sets the floor",
			"HorizontalPodAutoscaler %s scales this Deployment, but every apply resets it to %d replicas: a scaled-up service loses pods on each deploy", h.obj.Name, *d.v.Spec.Replicas)
	}
}
