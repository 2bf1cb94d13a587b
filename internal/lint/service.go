package lint

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func serviceRules() []Rule {
	return []Rule{
		{ID: "service-target-port", Severity: Error, check: checkServiceTargetPort,
			Summary: "every named Service targetPort is a containerPort name of the pods it selects (a number reaches the pod as it is)"},
		{ID: "service-selects-nothing", Severity: Warning, check: checkServiceSelectsNothing,
			Summary: "every Service with a selector selects the pods of a workload in the input"},
		{ID: "headless-publish-not-ready", Severity: Error, check: checkHeadlessNotReady,
			Summary: "headless Services do not publish not-ready addresses, so DNS drops draining pods"},
	}
}

// targetPort is where a Service port sends traffic; it defaults to the port
// itself.
func targetPort(p corev1.ServicePort) intstr.IntOrString {
	if p.TargetPort.Type == intstr.Int && p.TargetPort.IntVal == 0 {
		return intstr.FromInt32(p.Port)
	}
	return p.TargetPort
}

func checkServiceTargetPort(ix *index, e *emitter) {
	for _, s := range ix.services {
		pods := ix.podsSelectedBy(s.obj, serviceSelector(s.v.Spec.Selector))
		for i, p := range s.v.Spec.Ports {
			tp := targetPort(p)
			for _, w := range pods {
				if _, ok := servingContainer(w.spec(), tp); ok {
					continue
				}
				e.addf(s.obj, fmt.Sprintf("spec.ports[%d].targetPort", i), "set targetPort to the name of a containerPort of the workload (or to the port number the app listens on), and keep the two in step",
					"port %s sends traffic to %s, which no container of %s %s declares: the Service has no working endpoint on that port", portName(p), tp.String(), w.kind(), w.obj.Name)
			}
		}
	}
}

func portName(p corev1.ServicePort) string {
	if p.Name != "" {
		return fmt.Sprintf("%q (%d)", p.Name, p.Port)
	}
	return fmt.Sprint(p.Port)
}

func checkServiceSelectsNothing(ix *index, e *emitter) {
	for _, s := range ix.services {
		if !ix.selectsNothing(s) {
			continue // no selector, pods that live elsewhere, or pods found
		}
		e.addf(s.obj, "spec.selector", "use the pod labels of the workload it fronts, in the same namespace",
			"no pod of this input matches the selector in %s: unless pods from outside the input carry these labels, the Service has no endpoints", namespaceName(s.obj))
	}
}

// operatorMayMake reports whether a custom resource in o's namespace carries
// the labels sel asks for: its operator most likely makes the pods (from a
// Prometheus, a ThanosRuler, a Kafka), and they are not in the input.
func (ix *index) operatorMayMake(o *Object, sel labels.Selector) bool {
	for _, cr := range ix.customs {
		if sameNamespace(cr, o) && sel.Matches(labels.Set(cr.customLabels)) {
			return true
		}
	}
	return false
}

// governs reports whether s is a StatefulSet's governing Service (its
// spec.serviceName), whose DNS records let peers find each other before they
// are ready: publishing not-ready addresses is what it is for.
func (ix *index) governs(s typed[*corev1.Service]) bool {
	for _, w := range ix.workloads {
		if w.statefulSet != nil && w.statefulSet.Spec.ServiceName == s.obj.Name && sameNamespace(w.obj, s.obj) {
			return true
		}
	}
	return false
}

func checkHeadlessNotReady(ix *index, e *emitter) {
	for _, s := range ix.services {
		if s.v.Spec.ClusterIP != corev1.ClusterIPNone || !s.v.Spec.PublishNotReadyAddresses || ix.governs(s) {
			continue
		}
		e.add(s.obj, "spec.publishNotReadyAddresses",
			"the headless Service publishes not-ready addresses: DNS keeps returning pods that are starting or draining, and clients that resolve it (gRPC round_robin) keep dialing them",
			"remove publishNotReadyAddresses (or set it to false); it is meant for peer discovery in StatefulSets, not for client traffic")
	}
}
