package lint

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	sigsjson "sigs.k8s.io/json"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	"sigs.k8s.io/yaml"
)

// Object is one manifest, decoded into its k8s.io/api type (or Gateway API
// type, for routes and Gateways) when the linter knows the kind. Kinds it
// does not know (custom resources) are kept untyped: no rule reads them, but
// they count as input.
type Object struct {
	APIVersion string
	Kind       string
	Namespace  string
	Name       string
	Source     string // the file ("-" for stdin), or the file kustomize read it from, or the kustomize directory
	Line       int    // the line of Source where the object starts; 0 when unknown (kustomize output)
	Typed      any    // *appsv1.Deployment, *corev1.Service, *gatewayv1.HTTPRoute, ...; nil when unknown

	// doc is the object's text as written in Source, for finding the line
	// of a field; root is doc parsed, once a finding needs it.
	doc  []byte
	root *kyaml.Node

	// hasPodTemplate is set for an object of an unknown kind that carries
	// spec.template.spec.containers, so the summary can name it as skipped.
	hasPodTemplate bool
	// templateLabels are the pod labels of such an object, so that a Service
	// or budget selecting its pods is not reported as selecting nothing.
	templateLabels map[string]string
	// customLabels are the labels of a custom resource, which operators
	// commonly copy onto the pods they make for it (a Prometheus named self,
	// labelled prometheus: self, runs pods a Service finds by that label).
	customLabels map[string]string
	// monitor is set for a ServiceMonitor or PodMonitor, which tells ports
	// that Prometheus scrapes from ports that serve clients.
	monitor *monitor
	// serviceRefs are the Services an APIService, a webhook configuration
	// or a route of the input sends traffic to.
	serviceRefs []serviceRef
}

// typeFactories are the kinds the rules read or that commonly sit next to a
// Deployment; each is decoded strictly so that a misspelt or misplaced field
// is reported instead of silently dropped, as the API server would drop it.
func typeFactories() map[string]func() any {
	return map[string]func() any{
		"v1/ConfigMap":                             func() any { return &corev1.ConfigMap{} },
		"v1/Secret":                                func() any { return &corev1.Secret{} },
		"v1/Service":                               func() any { return &corev1.Service{} },
		"v1/ServiceAccount":                        func() any { return &corev1.ServiceAccount{} },
		"v1/Pod":                                   func() any { return &corev1.Pod{} },
		"v1/ReplicationController":                 func() any { return &corev1.ReplicationController{} },
		"v1/Namespace":                             func() any { return &corev1.Namespace{} },
		"v1/PersistentVolumeClaim":                 func() any { return &corev1.PersistentVolumeClaim{} },
		"v1/LimitRange":                            func() any { return &corev1.LimitRange{} },
		"v1/ResourceQuota":                         func() any { return &corev1.ResourceQuota{} },
		"apps/v1/Deployment":                       func() any { return &appsv1.Deployment{} },
		"apps/v1/StatefulSet":                      func() any { return &appsv1.StatefulSet{} },
		"apps/v1/DaemonSet":                        func() any { return &appsv1.DaemonSet{} },
		"apps/v1/ReplicaSet":                       func() any { return &appsv1.ReplicaSet{} },
		"batch/v1/Job":                             func() any { return &batchv1.Job{} },
		"batch/v1/CronJob":                         func() any { return &batchv1.CronJob{} },
		"policy/v1/PodDisruptionBudget":            func() any { return &policyv1.PodDisruptionBudget{} },
		"autoscaling/v1/HorizontalPodAutoscaler":   func() any { return &autoscalingv1.HorizontalPodAutoscaler{} },
		"autoscaling/v2/HorizontalPodAutoscaler":   func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
		"networking.k8s.io/v1/Ingress":             func() any { return &networkingv1.Ingress{} },
		"networking.k8s.io/v1/IngressClass":        func() any { return &networkingv1.IngressClass{} },
		"networking.k8s.io/v1/NetworkPolicy":       func() any { return &networkingv1.NetworkPolicy{} },
		"rbac.authorization.k8s.io/v1/Role":        func() any { return &rbacv1.Role{} },
		"rbac.authorization.k8s.io/v1/RoleBinding": func() any { return &rbacv1.RoleBinding{} },
		"rbac.authorization.k8s.io/v1/ClusterRole": func() any { return &rbacv1.ClusterRole{} },
		"rbac.authorization.k8s.io/v1/ClusterRoleBinding": func() any {
			return &rbacv1.ClusterRoleBinding{}
		},
		// Gateway API: v1beta1 HTTPRoute and Gateway are still served, with
		// the same schema as v1 (the Go types of v1beta1 are v1's).
		"gateway.networking.k8s.io/v1/HTTPRoute":      func() any { return &gatewayv1.HTTPRoute{} },
		"gateway.networking.k8s.io/v1beta1/HTTPRoute": func() any { return &gatewayv1.HTTPRoute{} },
		"gateway.networking.k8s.io/v1/GRPCRoute":      func() any { return &gatewayv1.GRPCRoute{} },
		"gateway.networking.k8s.io/v1/Gateway":        func() any { return &gatewayv1.Gateway{} },
		"gateway.networking.k8s.io/v1beta1/Gateway":   func() any { return &gatewayv1.Gateway{} },
	}
}

// removedAPIVersion says why a built-in apiVersion is no longer served; a
// manifest using one fails at apply time, so it fails here.
func removedAPIVersion(v string) (string, bool) {
	switch v {
	case "extensions/v1beta1":
		return "removed in Kubernetes 1.16 (workloads) and 1.22 (Ingress)", true
	case "apps/v1beta1", "apps/v1beta2":
		return "removed in Kubernetes 1.16", true
	case "networking.k8s.io/v1beta1", "rbac.authorization.k8s.io/v1beta1":
		return "removed in Kubernetes 1.22", true
	case "policy/v1beta1", "autoscaling/v2beta1", "batch/v1beta1":
		return "removed in Kubernetes 1.25", true
	case "autoscaling/v2beta2":
		return "removed in Kubernetes 1.26", true
	}
	return "", false
}

// removedGatewayVersion says why a Gateway API apiVersion of a kind the
// linter decodes is no longer served by the Gateway API CRDs: the cluster
// rejects such an object once they are installed at a current release.
func removedGatewayVersion(apiVersion, kind string) (string, bool) {
	if apiVersion != "gateway.networking.k8s.io/v1alpha2" {
		return "", false
	}
	switch kind {
	case "GRPCRoute":
		return "no longer served by the Gateway API CRDs since v1.2", true
	case "HTTPRoute", "Gateway":
		return "no longer served by the Gateway API CRDs since v0.8", true
	}
	return "", false
}

// typeMeta is what every manifest must carry to be decoded at all.
type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
}

// decoder turns YAML documents into Objects and records why a document could
// not be decoded as a finding, so that one bad document does not hide the
// findings of every other.
type decoder struct {
	factories map[string]func() any
	objects   []*Object
	problems  []Finding
	// read counts the objects read by kind, valid or not, so that a
	// workload the text holds but no object came from is noticed.
	read map[string]int
	// unread says, for each document that holds a workload the decoder did
	// not read as an object, where and which: such an input is refused, as
	// passing it would pass what was never linted.
	unread []string
}

func newDecoder() *decoder { return &decoder{factories: typeFactories(), read: map[string]int{}} }

// decodeDocument decodes one document of the input, as decode does, and
// then counts the workloads its text holds (maps with a workload kind and a
// spec, at any depth: in a List, a typed list, a template of some other
// kind) against the objects read: a workload nested where the decoder
// does not look must not pass as linted.
func (d *decoder) decodeDocument(doc []byte, source string, line int) {
	before := maps.Clone(d.read)
	d.decode(doc, source, line)
	var tree any
	if err := yaml.Unmarshal(doc, &tree); err != nil {
		return // a problem of its own already
	}
	held := map[string]int{}
	countWorkloads(tree, held)
	for _, kind := range slices.Sorted(maps.Keys(held)) {
		if n := held[kind] - (d.read[kind] - before[kind]); n > 0 {
			where := source
			if line > 0 {
				where = fmt.Sprintf("%s:%d", source, line)
			}
			d.unread = append(d.unread, fmt.Sprintf("%s holds %s that the linter did not read as an object (nested in a kind it does not unpack)", where, plural(n, kind)))
		}
	}
}

// err refuses the input when some workload of its text was not read.
func (d *decoder) err() error {
	if len(d.unread) == 0 {
		return nil
	}
	return fmt.Errorf("%s: give each workload as a document of its own, or as an item of a List or a typed list such as DeploymentList", strings.Join(d.unread, "; "))
}

// guardedKinds are the kinds whose objects own pods: a text that holds one
// must yield it as an object, or the input is refused.
func guardedKinds() []string {
	return append(workloadKinds(), "Pod")
}

// countWorkloads counts, by kind, the maps of tree that look like an object
// owning pods: a guarded kind and a spec (a reference such as an HPA's
// scaleTargetRef or an ownerReference names a kind, but has no spec).
func countWorkloads(tree any, held map[string]int) {
	switch v := tree.(type) {
	case map[string]any:
		if kind, ok := v["kind"].(string); ok && slices.Contains(guardedKinds(), kind) {
			if _, ok := v["spec"]; ok {
				held[kind]++
			}
		}
		for _, child := range v {
			countWorkloads(child, held)
		}
	case []any:
		for _, child := range v {
			countWorkloads(child, held)
		}
	}
}

// decode adds the objects of one YAML document, which starts at line of
// source (0 when the text is not the source's, as for kustomize output). A
// v1 List is unpacked, as kubectl get -o yaml produces them.
func (d *decoder) decode(doc []byte, source string, line int) {
	var tm typeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		name := source
		if line > 0 {
			name = fmt.Sprintf("%s:%d", source, line)
		}
		fix := "fix the YAML syntax"
		if bytes.Contains(doc, []byte("{{")) {
			fix = "this looks like a Helm template, which is not YAML until rendered: lint its output, helm template RELEASE CHART | scaffold lint -"
		}
		d.problem(&Object{Kind: "Document", Name: name, Source: source, Line: line}, "", fmt.Sprintf("not a Kubernetes object: %v", err), fix)
		return
	}
	if tm.APIVersion == "" && tm.Kind == "" && tm.Metadata.Name == "" {
		return // an empty document, or one holding only comments
	}
	o := &Object{APIVersion: tm.APIVersion, Kind: tm.Kind, Name: tm.Metadata.Name, Namespace: tm.Metadata.Namespace, Source: source, Line: line}
	d.read[o.Kind]++
	if line > 0 {
		o.doc = doc
	}
	if o.Kind == "" || o.APIVersion == "" {
		o.Kind = cmp.Or(o.Kind, "Object")
		d.problem(o, "", "the object has no apiVersion or kind", "set apiVersion and kind")
		return
	}
	if isList(o.Kind) {
		var list struct {
			Items *[]any `json:"items"`
		}
		if err := yaml.Unmarshal(doc, &list); err != nil {
			d.problem(o, "items", fmt.Sprintf("cannot read the %s: %v", o.Kind, err), "fix the YAML syntax")
			return
		}
		if list.Items != nil || o.Kind == "List" {
			d.decodeItems(o, deref(list.Items, nil), source, line)
			return
		}
	}
	if why, ok := removedAPIVersion(o.APIVersion); ok {
		d.objects = append(d.objects, o)
		d.problem(o, "apiVersion", fmt.Sprintf("%s is %s; the cluster rejects this object", o.APIVersion, why),
			"use the current apiVersion (apps/v1, policy/v1, autoscaling/v2, networking.k8s.io/v1, batch/v1)")
		return
	}
	if why, ok := removedGatewayVersion(o.APIVersion, o.Kind); ok {
		d.objects = append(d.objects, o)
		d.problem(o, "apiVersion", fmt.Sprintf("%s %s is %s; the cluster rejects this object", o.APIVersion, o.Kind, why),
			"use gateway.networking.k8s.io/v1, whose schema is the same")
		return
	}
	d.objects = append(d.objects, o)
	if o.Kind == "Rollout" && strings.HasPrefix(o.APIVersion, "argoproj.io/") {
		d.decodeRollout(o, doc)
		return
	}
	factory, ok := d.factories[o.APIVersion+"/"+o.Kind]
	if !ok {
		if strings.Contains(o.APIVersion, ".") && o.Kind != "CustomResourceDefinition" {
			o.customLabels = tm.Metadata.Labels
		}
		o.monitor = readMonitor(o.APIVersion, o.Kind, doc)
		o.serviceRefs = readServiceRefs(o, doc)
		var pt podTemplateOf
		if err := yaml.Unmarshal(doc, &pt); err == nil && pt.Spec.Template != nil && len(pt.Spec.Template.Spec.Containers) > 0 {
			o.hasPodTemplate, o.templateLabels = true, pt.Spec.Template.Metadata.Labels
		}
		return
	}
	typed := factory()
	if err := strictDecode(doc, typed); err != nil {
		d.problem(o, "", "does not decode strictly into "+o.APIVersion+" "+o.Kind+": "+err.Error(),
			strictFix)
		return
	}
	o.Typed = typed
	if g, ok := typed.(*gatewayv1.Gateway); ok {
		// Gateway controllers (Istio, Envoy Gateway) may run its pods and
		// copy its labels onto them, as operators do for their resources.
		o.customLabels = g.Labels
	}
}

// decodeItems adds the items of a list, which starts at line of source.
func (d *decoder) decodeItems(list *Object, items []any, source string, line int) {
	for i, item := range items {
		b, err := yaml.Marshal(typedItem(list, item))
		if err != nil {
			d.problem(list, fmt.Sprintf("items[%d]", i), err.Error(), "fix the item")
			continue
		}
		d.decode(b, source, 0)
		if n := len(d.objects); n > 0 && d.objects[n-1].Source == source && d.objects[n-1].Line == 0 {
			d.objects[n-1].Line = line // the list's line: items are re-encoded, so no field lines
		}
	}
}

// isList reports whether kind is one kubectl and the API server print
// several objects in: List, or a typed list such as DeploymentList, whose
// items are as much the input as a stream of documents. A custom kind that
// ends in List without holding items (an IPAllowList) is an object.
func isList(kind string) bool {
	return kind == "List" || (strings.HasSuffix(kind, "List") && len(kind) > len("List"))
}

// typedItem gives an item of a typed list the apiVersion and kind the API
// server leaves out of it (every item of a DeploymentList is an apps/v1
// Deployment), so that it decodes as the plain object would.
func typedItem(list *Object, item any) any {
	m, ok := item.(map[string]any)
	if !ok || list.Kind == "List" {
		return item
	}
	out := make(map[string]any, len(m)+2)
	for k, v := range m {
		out[k] = v
	}
	if _, ok := out["apiVersion"]; !ok {
		out["apiVersion"] = list.APIVersion
	}
	if _, ok := out["kind"]; !ok {
		out["kind"] = strings.TrimSuffix(list.Kind, "List")
	}
	return out
}

// podTemplateOf finds a pod template in an object of unknown kind.
type podTemplateOf struct {
	Spec struct {
		Template *struct {
			Metadata struct {
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
			Spec struct {
				Containers []any `json:"containers"`
			} `json:"spec"`
		} `json:"template"`
	} `json:"spec"`
}

// argoRollout is the part of an Argo Rollout that the rules read: the same
// replicas, selector and pod template as a Deployment's. Its canary and
// blue-green strategies are Argo's own, and no rule reads them.
type argoRollout struct {
	Metadata metav1.ObjectMeta `json:"metadata"`
	Spec     struct {
		Replicas    *int32                  `json:"replicas"`
		Selector    *metav1.LabelSelector   `json:"selector"`
		Template    *corev1.PodTemplateSpec `json:"template"`
		WorkloadRef *struct {
			Kind string `json:"kind"`
			Name string `json:"name"`
		} `json:"workloadRef"`
	} `json:"spec"`
}

// decodeRollout decodes an Argo Rollout, strictly within its pod template
// (a core type, held to the same standard as a Deployment's) and leniently
// elsewhere, since the linter does not carry Argo's types.
func (d *decoder) decodeRollout(o *Object, doc []byte) {
	r := &argoRollout{}
	err := strictDecode(doc, r)
	var bad []string
	for _, e := range unwrapJoined(err) {
		if msg := e.Error(); !strings.HasPrefix(msg, "unknown field") || strings.Contains(msg, `"spec.template.`) {
			bad = append(bad, msg)
		}
	}
	if len(bad) > 0 {
		d.problem(o, "", "does not decode strictly into an Argo Rollout with a core pod template: "+strings.Join(bad, "; "),
			strictFix)
		return
	}
	o.Typed = r
}

// unwrapJoined lists the errors joined into err.
func unwrapJoined(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// strictFix is the fix for a field the API types do not have. kubectl has
// asked the API server for strict field validation by default since 1.25, so
// the apply fails; tools that do not ask for it have the field dropped.
const strictFix = "correct or remove the field: kubectl apply (1.25 and later) rejects the object, and clients that do not validate strictly drop the field without a word, and with it the setting you meant"

// strictDecode decodes as the API server's strict field validation does:
// field names are case-sensitive (encoding/json would let "readinessprobe"
// fill readinessProbe), and unknown or duplicate fields are errors.
func strictDecode(doc []byte, v any) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strict, err := sigsjson.UnmarshalStrict(j, v, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

func (d *decoder) problem(o *Object, field, msg, fix string) {
	d.problems = append(d.problems, Finding{
		Rule: RuleSchema, Severity: Error,
		Kind: o.Kind, Namespace: o.Namespace, Name: o.Name, Source: o.Source, Line: o.lineOf(field),
		Field: field, Message: msg, Fix: fix,
	})
}

// lineOf returns the line of Source that holds field (or its closest
// enclosing field), or where the object starts when its text is not at hand.
func (o *Object) lineOf(field string) int {
	if o.Line == 0 || (o.doc == nil && o.root == nil) {
		return o.Line
	}
	if o.root == nil {
		o.root = &kyaml.Node{}
		if err := kyaml.Unmarshal(o.doc, o.root); err != nil {
			o.root, o.doc = nil, nil
			return o.Line
		}
		o.doc = nil
	}
	return o.Line + fieldLine(o.root, field) - 1
}
