package lint

import (
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
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
	kubeMinor      int // the cluster's Kubernetes minor version; 0 for any supported release
	kustomize      bool
	kustomizations []*Kustomization
	workloads      []*workload
	skipped        []skipped
	opaquePods     []*Object // objects of unknown kinds whose pods rules cannot read, but Services may select
	customs        []*Object // custom resources, whose operators may make pods the input does not hold
	monitors       []*Object // ServiceMonitors and PodMonitors, which tell scraped ports from served ones
	referrers      []*Object // objects of unknown kinds that send traffic to Services (APIServices, webhooks, TCP and TLS routes)
	routes         []route   // HTTPRoutes and GRPCRoutes
	services       []typed[*corev1.Service]
	configMaps     []typed[*corev1.ConfigMap]
	pdbs           []typed[*policyv1.PodDisruptionBudget]
	ingresses      []typed[*networkingv1.Ingress]
	serviceAccts   []typed[*corev1.ServiceAccount]
	pvcs           []typed[*corev1.PersistentVolumeClaim]
	bindings       []binding
	hpas           []hpa
}

// binding is a RoleBinding or ClusterRoleBinding, reduced to the service
// accounts it grants something to.
type binding struct {
	obj      *Object
	subjects []rbacv1.Subject
}

func newIndex(in *Input) *index {
	ix := &index{kustomize: len(in.Kustomizations) > 0, kustomizations: in.Kustomizations}
	for _, o := range in.Objects {
		if w, ok := newWorkload(o); ok {
			ix.workloads = append(ix.workloads, w)
			continue
		}
		if o.customLabels != nil {
			ix.customs = append(ix.customs, o)
		}
		if o.monitor != nil {
			ix.monitors = append(ix.monitors, o)
		}
		if len(o.serviceRefs) > 0 {
			ix.referrers = append(ix.referrers, o)
		}
		if why := skipReason(o); why != "" {
			ix.skipped = append(ix.skipped, skipped{o.APIVersion, o.Kind, why})
			if o.hasPodTemplate {
				ix.opaquePods = append(ix.opaquePods, o)
			}
		}
		switch v := o.Typed.(type) {
		case *corev1.Service:
			ix.services = append(ix.services, typed[*corev1.Service]{o, v})
		case *corev1.ConfigMap:
			ix.configMaps = append(ix.configMaps, typed[*corev1.ConfigMap]{o, v})
		case *policyv1.PodDisruptionBudget:
			ix.pdbs = append(ix.pdbs, typed[*policyv1.PodDisruptionBudget]{o, v})
		case *networkingv1.Ingress:
			ix.ingresses = append(ix.ingresses, typed[*networkingv1.Ingress]{o, v})
		case *gatewayv1.HTTPRoute, *gatewayv1.GRPCRoute:
			r, _ := newRoute(o)
			ix.routes = append(ix.routes, r)
		case *corev1.ServiceAccount:
			ix.serviceAccts = append(ix.serviceAccts, typed[*corev1.ServiceAccount]{o, v})
		case *corev1.PersistentVolumeClaim:
			ix.pvcs = append(ix.pvcs, typed[*corev1.PersistentVolumeClaim]{o, v})
		case *rbacv1.RoleBinding:
			ix.bindings = append(ix.bindings, binding{o, v.Subjects})
		case *rbacv1.ClusterRoleBinding:
			ix.bindings = append(ix.bindings, binding{o, v.Subjects})
		case *autoscalingv2.HorizontalPodAutoscaler:
			ix.hpas = append(ix.hpas, hpa{o, v.Spec.ScaleTargetRef.Kind, v.Spec.ScaleTargetRef.Name, deref(v.Spec.MinReplicas, 1)})
		case *autoscalingv1.HorizontalPodAutoscaler:
			ix.hpas = append(ix.hpas, hpa{o, v.Spec.ScaleTargetRef.Kind, v.Spec.ScaleTargetRef.Name, deref(v.Spec.MinReplicas, 1)})
		}
	}
	return ix
}

// atLeast reports whether the cluster runs Kubernetes 1.minor or later;
// without --kube-version, it runs a supported release, where every feature
// the rules advise is available.
func (ix *index) atLeast(minor int) bool { return ix.kubeMinor == 0 || ix.kubeMinor >= minor }

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

// hpasFor returns the HPAs scaling w.
func (ix *index) hpasFor(w *workload) []hpa {
	var out []hpa
	for _, h := range ix.hpas {
		if h.targetKind == w.kind() && h.targetName == w.obj.Name && sameNamespace(h.obj, w.obj) {
			out = append(out, h)
		}
	}
	return out
}

// hpaFor returns the HPA scaling w, if any (the first, when several fight
// over it: hpa-duplicate reports that).
func (ix *index) hpaFor(w *workload) (hpa, bool) {
	if hs := ix.hpasFor(w); len(hs) > 0 {
		return hs[0], true
	}
	return hpa{}, false
}

// replicas is the number of pods a workload runs at its low point: the
// HPA's minimum when one scales it, else spec.replicas (default 1).
func (ix *index) replicas(w *workload) int32 {
	if h, ok := ix.hpaFor(w); ok {
		return h.minReplicas
	}
	return deref(w.replicas, 1)
}

// podsSelectedBy returns the workloads in o's namespace whose pod template
// matches sel. A nil selector selects nothing.
func (ix *index) podsSelectedBy(o *Object, sel labels.Selector) []*workload {
	var out []*workload
	if sel == nil {
		return nil
	}
	for _, w := range ix.workloads {
		if sameNamespace(o, w.obj) && sel.Matches(w.podLabels()) {
			out = append(out, w)
		}
	}
	return out
}

// selecting returns the objects of items, in w's namespace, whose selector
// (as sel reads it; nil selects nothing) matches w's pods.
func selecting[T any](items []typed[T], w *workload, sel func(T) labels.Selector) []typed[T] {
	var out []typed[T]
	for _, it := range items {
		if s := sel(it.v); s != nil && sameNamespace(it.obj, w.obj) && s.Matches(w.podLabels()) {
			out = append(out, it)
		}
	}
	return out
}

// selectsAnyPods reports whether sel matches the pods of some workload in
// o's namespace, including those of kinds the rules cannot read.
func (ix *index) selectsAnyPods(o *Object, sel labels.Selector) bool {
	if len(ix.podsSelectedBy(o, sel)) > 0 {
		return true
	}
	for _, p := range ix.opaquePods {
		if sel != nil && sameNamespace(o, p) && sel.Matches(labels.Set(p.templateLabels)) {
			return true
		}
	}
	return false
}

// hasPodsIn reports whether the input holds pods in o's namespace for its
// selector to match; without any, the pods live elsewhere (another input,
// another repository) and the selector cannot be judged.
func (ix *index) hasPodsIn(o *Object) bool {
	for _, w := range ix.workloads {
		if sameNamespace(w.obj, o) {
			return true
		}
	}
	for _, p := range ix.opaquePods {
		if sameNamespace(p, o) {
			return true
		}
	}
	return false
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
