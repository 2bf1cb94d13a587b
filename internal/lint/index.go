package lint

import (
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// typed pairs a decoded object with the Object it came from, which names it
// in findings.
type typed[T any] struct {
	obj *Object
	v   T
}

// hpa is the part of an HPA the rules need, the same for autoscaling/v1 and
// v2.
type hpa struct {
	obj         *Object
	targetKind  string
	targetName  string
	minReplicas int32
}

// index holds the input by kind, with the cross-object lookups the rules
// share.
type index struct {
	kustomize      bool
	kustomizations []*Kustomization
	deployments    []typed[*appsv1.Deployment]
	services       []typed[*corev1.Service]
	configMaps     []typed[*corev1.ConfigMap]
	pdbs           []typed[*policyv1.PodDisruptionBudget]
	ingresses      []typed[*networkingv1.Ingress]
	serviceAccts   []typed[*corev1.ServiceAccount]
	hpas           []hpa
}

func newIndex(in *Input) *index {
	ix := &index{kustomize: len(in.Kustomizations) > 0, kustomizations: in.Kustomizations}
	for _, o := range in.Objects {
		switch v := o.Typed.(type) {
		case *appsv1.Deployment:
			ix.deployments = append(ix.deployments, typed[*appsv1.Deployment]{o, v})
		case *corev1.Service:
			ix.services = append(ix.services, typed[*corev1.Service]{o, v})
		case *corev1.ConfigMap:
			ix.configMaps = append(ix.configMaps, typed[*corev1.ConfigMap]{o, v})
		case *policyv1.PodDisruptionBudget:
			ix.pdbs = append(ix.pdbs, typed[*policyv1.PodDisruptionBudget]{o, v})
		case *networkingv1.Ingress:
			ix.ingresses = append(ix.ingresses, typed[*networkingv1.Ingress]{o, v})
		case *corev1.ServiceAccount:
			ix.serviceAccts = append(ix.serviceAccts, typed[*corev1.ServiceAccount]{o, v})
		case *autoscalingv2.HorizontalPodAutoscaler:
			ix.hpas = append(ix.hpas, hpa{o, v.Spec.ScaleTargetRef.Kind, v.Spec.ScaleTargetRef.Name, deref(v.Spec.MinReplicas, 1)})
		case *autoscalingv1.HorizontalPodAutoscaler:
			ix.hpas = append(ix.hpas, hpa{o, v.Spec.ScaleTargetRef.Kind, v.Spec.ScaleTargetRef.Name, deref(v.Spec.MinReplicas, 1)})
		}
	}
	return ix
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// sameNamespace compares namespaces as kubectl applies them: an object
// without one lands in the same (current) namespace as any other without one.
func sameNamespace(a, b *Object) bool { return a.Namespace == b.Namespace }

// namespaceName names an object's namespace for messages; objects without
// one land wherever kubectl's context points.
func namespaceName(o *Object) string {
	if o.Namespace == "" {
		return "no namespace (the current kubectl namespace)"
	}
	return "namespace " + o.Namespace
}

// hpaFor returns the HPA scaling d, if any.
func (ix *index) hpaFor(d typed[*appsv1.Deployment]) (hpa, bool) {
	for _, h := range ix.hpas {
		if h.targetKind == "Deployment" && h.targetName == d.obj.Name && sameNamespace(h.obj, d.obj) {
			return h, true
		}
	}
	return hpa{}, false
}

// replicas is the number of pods a Deployment runs at its low point: the
// HPA's minimum when one scales it, else spec.replicas (default 1).
func (ix *index) replicas(d typed[*appsv1.Deployment]) int32 {
	if h, ok := ix.hpaFor(d); ok {
		return h.minReplicas
	}
	return deref(d.v.Spec.Replicas, 1)
}

// podsSelectedBy returns the Deployments in ns whose pod template matches
// sel. A nil selector selects nothing.
func (ix *index) podsSelectedBy(o *Object, sel labels.Selector) []typed[*appsv1.Deployment] {
	var out []typed[*appsv1.Deployment]
	if sel == nil {
		return nil
	}
	for _, d := range ix.deployments {
		if sameNamespace(o, d.obj) && sel.Matches(labels.Set(d.v.Spec.Template.Labels)) {
			out = append(out, d)
		}
	}
	return out
}

// labelSelector converts a LabelSelector, returning nil for one that is
// missing or invalid (the API server rejects invalid ones; other rules are
// not the place to report them).
func labelSelector(ls *metav1.LabelSelector) labels.Selector {
	if ls == nil {
		return nil
	}
	s, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		return nil
	}
	return s
}

// serviceSelector converts a Service's map selector; an empty one selects
// nothing (the Service's endpoints are managed by hand).
func serviceSelector(m map[string]string) labels.Selector {
	if len(m) == 0 {
		return nil
	}
	return labels.SelectorFromSet(m)
}

// configMap finds a ConfigMap of the input by namespace and name.
func (ix *index) configMap(o *Object, name string) (*corev1.ConfigMap, bool) {
	for _, c := range ix.configMaps {
		if c.obj.Name == name && sameNamespace(c.obj, o) {
			return c.v, true
		}
	}
	return nil, false
}

// service finds a Service of the input by namespace and name.
func (ix *index) service(o *Object, name string) (typed[*corev1.Service], bool) {
	for _, s := range ix.services {
		if s.obj.Name == name && sameNamespace(s.obj, o) {
			return s, true
		}
	}
	return typed[*corev1.Service]{}, false
}
