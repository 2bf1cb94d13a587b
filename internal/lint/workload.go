package lint

import (
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// workload is an object that owns pods through a template: a Deployment,
// StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob or
// Argo Rollout. The rules
// about pods (probes, drain, grace, Pod Security, resources) read only the
// template, so they apply to every kind alike; the rules about rollouts read
// the kind's own strategy, where one exists.
type workload struct {
	obj      *Object
	meta     *metav1.ObjectMeta // the workload's own metadata (annotations such as reloader.stakater.com/auto)
	podPath  string             // where the pod spec lives: spec.template.spec, or deeper for a CronJob
	template *corev1.PodTemplateSpec
	selector *metav1.LabelSelector // nil for Jobs and CronJobs, which select their own pods
	replicas *int32                // as written; nil when unset or when the kind has no replica count

	// At most one of these is set, for the kinds with rollout rules of
	// their own; every other kind is read through the fields above.
	deployment  *appsv1.Deployment
	statefulSet *appsv1.StatefulSet
	daemonSet   *appsv1.DaemonSet
}

// newWorkload returns the workload view of a decoded object, or false when
// the object owns no pods.
func newWorkload(o *Object) (*workload, bool) {
	const tmpl = "spec.template.spec"
	switch v := o.Typed.(type) {
	case *appsv1.Deployment:
		return &workload{obj: o, meta: &v.ObjectMeta, podPath: tmpl, template: &v.Spec.Template, selector: v.Spec.Selector, replicas: v.Spec.Replicas, deployment: v}, true
	case *appsv1.StatefulSet:
		return &workload{obj: o, meta: &v.ObjectMeta, podPath: tmpl, template: &v.Spec.Template, selector: v.Spec.Selector, replicas: v.Spec.Replicas, statefulSet: v}, true
	case *appsv1.DaemonSet:
		return &workload{obj: o, meta: &v.ObjectMeta, podPath: tmpl, template: &v.Spec.Template, selector: v.Spec.Selector, daemonSet: v}, true
	case *appsv1.ReplicaSet:
		return &workload{obj: o, meta: &v.ObjectMeta, podPath: tmpl, template: &v.Spec.Template, selector: v.Spec.Selector, replicas: v.Spec.Replicas}, true
	case *corev1.ReplicationController:
		if v.Spec.Template == nil {
			return nil, false // the API server rejects it; nothing to read
		}
		return &workload{obj: o, meta: &v.ObjectMeta, podPath: tmpl, template: v.Spec.Template, selector: rcSelector(v), replicas: v.Spec.Replicas}, true
	case *batchv1.Job:
		return &workload{obj: o, meta: &v.ObjectMeta, podPath: tmpl, template: &v.Spec.Template}, true
	case *batchv1.CronJob:
		return &workload{obj: o, meta: &v.ObjectMeta, podPath: "spec.jobTemplate.spec.template.spec", template: &v.Spec.JobTemplate.Spec.Template}, true
	case *argoRollout:
		if v.Spec.Template == nil {
			return nil, false // workloadRef: the pods are another object's
		}
		return &workload{obj: o, meta: &v.Metadata, podPath: tmpl, template: v.Spec.Template, selector: v.Spec.Selector, replicas: v.Spec.Replicas}, true
	}
	return nil, false
}

// rcSelector is a ReplicationController's selector, which defaults to its
// template's labels.
func rcSelector(rc *corev1.ReplicationController) *metav1.LabelSelector {
	sel := rc.Spec.Selector
	if len(sel) == 0 {
		sel = rc.Spec.Template.Labels
	}
	return &metav1.LabelSelector{MatchLabels: sel}
}

func (w *workload) kind() string            { return w.obj.Kind }
func (w *workload) spec() *corev1.PodSpec   { return &w.template.Spec }
func (w *workload) podLabels() labels.Set   { return labels.Set(w.template.Labels) }
func (w *workload) path(rest string) string { return w.podPath + "." + rest }

// templatePath is where the pod template lives, the pod spec's parent.
func (w *workload) templatePath() string { return strings.TrimSuffix(w.podPath, ".spec") }

// runsToCompletion reports whether the pods are meant to exit: Jobs and
// CronJobs. They serve only when a Service selects them, and are never
// rolled, so rollout and disruption rules pass them by.
func (w *workload) runsToCompletion() bool { return w.kind() == "Job" || w.kind() == "CronJob" }

// scalable reports whether the kind runs a replica count (and so can be
// scaled by an HPA and needs two replicas to stay up).
func (w *workload) scalable() bool {
	return w.deployment != nil || w.statefulSet != nil || w.kind() == "ReplicaSet" || w.kind() == "ReplicationController" || w.kind() == "Rollout"
}

// rolled reports whether a change to the pod template replaces the running
// pods. A bare ReplicaSet or a ReplicationController keeps its pods, as
// does a StatefulSet or DaemonSet updated OnDelete, and a Job's pods run
// once.
func (w *workload) rolled() bool {
	switch {
	case w.statefulSet != nil:
		return w.statefulSet.Spec.UpdateStrategy.Type != appsv1.OnDeleteStatefulSetStrategyType
	case w.daemonSet != nil:
		return w.daemonSet.Spec.UpdateStrategy.Type != appsv1.OnDeleteDaemonSetStrategyType
	}
	return w.deployment != nil || w.kind() == "Rollout"
}

// containerPath names a container by name rather than index, so a finding
// still points at the right container after containers are reordered.
func (w *workload) containerPath(c *corev1.Container) string {
	return w.path("containers[name=" + c.Name + "]")
}

// containers returns the pod's app containers, for the rules about each.
func (w *workload) containers() []*corev1.Container {
	cs := w.spec().Containers
	out := make([]*corev1.Container, len(cs))
	for i := range cs {
		out[i] = &cs[i]
	}
	return out
}

// containerAt is a container with the path of the field that holds it.
type containerAt struct {
	field string
	c     *corev1.Container
}

// allContainers returns app and init containers with their paths, for the
// rules that cover both (Pod Security, ConfigMap references, env).
func (w *workload) allContainers() []containerAt {
	var out []containerAt
	for _, list := range []struct {
		field string
		cs    []corev1.Container
	}{{"containers", w.spec().Containers}, {"initContainers", w.spec().InitContainers}} {
		for i := range list.cs {
			c := &list.cs[i]
			out = append(out, containerAt{fmt.Sprintf("%s[name=%s]", w.path(list.field), c.Name), c})
		}
	}
	return out
}

// hostPorts lists the ports the pod binds on its node; two pods of it cannot
// share a node. On the host network every declared containerPort is one (the
// API server defaults hostPort to it).
func (w *workload) hostPorts() []int32 {
	var ports []int32
	for _, c := range w.spec().Containers {
		for _, p := range c.Ports {
			switch {
			case p.HostPort != 0:
				ports = append(ports, p.HostPort)
			case w.spec().HostNetwork:
				ports = append(ports, p.ContainerPort)
			}
		}
	}
	return ports
}

// skipped is a kind of object that owns pods but that the linter does not
// check, with why, for the summary line: a run that passes must say what it
// did not look at.
type skipped struct {
	apiVersion, kind, reason string
}

// podOwningKinds are custom resources known to run pods that the linter
// cannot read, as group/Kind: their pod templates are not at spec.template,
// or are generated by an operator.
func podOwningKinds() []string {
	return []string{
		"apps.kruise.io/CloneSet", "apps.kruise.io/StatefulSet", "apps.openshift.io/DeploymentConfig",
		"serving.knative.dev/Service", "keda.sh/ScaledJob", "kafka.strimzi.io/Kafka",
	}
}

// skipReason says why an object that may own pods was not checked, or ""
// when it owns none or was checked.
func skipReason(o *Object) string {
	if _, ok := newWorkload(o); ok {
		return ""
	}
	switch {
	case o.Typed == nil && slices.Contains([]string{"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob"}, o.Kind) &&
		!strings.Contains(o.APIVersion, "."):
		return "not a valid object: see schema-strict"
	case o.Kind == "Pod" && o.APIVersion == "v1":
		return "a bare Pod: nothing rolls or replaces it"
	case o.Kind == "Rollout" && strings.HasPrefix(o.APIVersion, "argoproj.io/"):
		return "workloadRef: the pod template is another object's"
	case o.hasPodTemplate:
		return "unknown kind with a pod template"
	}
	group, _, _ := strings.Cut(o.APIVersion, "/")
	if slices.Contains(podOwningKinds(), group+"/"+o.Kind) {
		return "unknown kind"
	}
	return ""
}
