package lint

import (
	"cmp"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// A port that Prometheus scrapes is no client's: a scrape that misses one
// drain is retried at the next interval. Port names tell some such ports
// apart (operationalPort), but not a metrics or auth sidecar's
// (kube-rbac-proxy), named https or https-main as any server's might be. A
// ServiceMonitor or PodMonitor of the input that scrapes a sidecar's port
// says what the name cannot.

// monitor is a prometheus-operator ServiceMonitor or PodMonitor, reduced to
// what it selects and scrapes.
type monitor struct {
	pods      bool // a PodMonitor, which selects pods; else Services
	selector  labels.Selector
	anyNS     bool
	namespace []string // namespaceSelector.matchNames; empty for the monitor's own
	ports     []string // Service port names (ServiceMonitor), or container port names (PodMonitor)
	targets   []intstr.IntOrString
}

// monitorDoc is the part of a ServiceMonitor or PodMonitor that is read.
type monitorDoc struct {
	Spec struct {
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector struct {
			Any        bool     `json:"any"`
			MatchNames []string `json:"matchNames"`
		} `json:"namespaceSelector"`
		Endpoints []struct {
			Port       string              `json:"port"`
			TargetPort *intstr.IntOrString `json:"targetPort"`
		} `json:"endpoints"`
		PodMetricsEndpoints []struct {
			Port       string              `json:"port"`
			PortNumber int32               `json:"portNumber"`
			TargetPort *intstr.IntOrString `json:"targetPort"`
		} `json:"podMetricsEndpoints"`
	} `json:"spec"`
}

// readMonitor reads a ServiceMonitor or PodMonitor; nil for any other
// object, or one that does not parse (an invalid selector selects nothing
// the operator would scrape).
func readMonitor(apiVersion, kind string, doc []byte) *monitor {
	if apiVersion != "monitoring.coreos.com/v1" || (kind != "ServiceMonitor" && kind != "PodMonitor") {
		return nil
	}
	var d monitorDoc
	if err := yaml.Unmarshal(doc, &d); err != nil {
		return nil
	}
	sel, err := metav1.LabelSelectorAsSelector(&d.Spec.Selector)
	if err != nil {
		return nil
	}
	m := &monitor{pods: kind == "PodMonitor", selector: sel, anyNS: d.Spec.NamespaceSelector.Any, namespace: d.Spec.NamespaceSelector.MatchNames}
	for _, ep := range d.Spec.Endpoints {
		if ep.Port != "" {
			m.ports = append(m.ports, ep.Port)
		}
		if ep.TargetPort != nil {
			m.targets = append(m.targets, *ep.TargetPort)
		}
	}
	for _, ep := range d.Spec.PodMetricsEndpoints {
		switch {
		case ep.Port != "":
			m.ports = append(m.ports, ep.Port)
		case ep.PortNumber != 0:
			m.targets = append(m.targets, intstr.FromInt32(ep.PortNumber))
		case ep.TargetPort != nil:
			m.targets = append(m.targets, *ep.TargetPort)
		}
	}
	return m
}

// watches reports whether the monitor (object mo) looks into o's namespace.
func (m *monitor) watches(mo, o *Object) bool {
	switch {
	case m.anyNS:
		return true
	case len(m.namespace) > 0:
		return slices.Contains(m.namespace, o.Namespace)
	}
	return sameNamespace(mo, o)
}

// scrapedServicePort reports whether a ServiceMonitor of the input scrapes
// port p of Service s.
func (ix *index) scrapedServicePort(s typed[*corev1.Service], p corev1.ServicePort) bool {
	for _, mo := range ix.monitors {
		m := mo.monitor
		if m.pods || !m.watches(mo, s.obj) || !m.selector.Matches(labels.Set(s.v.Labels)) {
			continue
		}
		if (p.Name != "" && slices.Contains(m.ports, p.Name)) || slices.Contains(m.targets, targetPort(p)) {
			return true
		}
	}
	return false
}

// sidecarScrapedOnly reports whether port p of Service s, which leads to
// container c of w's pods, is a metrics or auth sidecar's that Prometheus
// alone reaches: a ServiceMonitor of the input scrapes it, nothing else in
// the input (an Ingress, a route, an APIService, a webhook) sends the
// Service traffic, and c is not the pod's main (first) container. The main
// container's port stays a server's even when scraped: a webhook or an API
// commonly serves its clients and its metrics on one port, and the
// configuration that sends it requests is often applied elsewhere.
func (ix *index) sidecarScrapedOnly(s typed[*corev1.Service], p corev1.ServicePort, w *workload, c *corev1.Container) bool {
	if cs := w.spec().Containers; len(cs) == 0 || cs[0].Name == c.Name {
		return false
	}
	return ix.scrapedServicePort(s, p) && !ix.routedTo(s.obj)
}

// scrapedContainerPort reports whether a PodMonitor of the input that
// selects w's pods scrapes port p of container c, a sidecar (not the pod's
// first container), as sidecarScrapedOnly asks of Services.
func (ix *index) scrapedContainerPort(w *workload, c *corev1.Container, p corev1.ContainerPort) bool {
	if cs := w.spec().Containers; len(cs) == 0 || cs[0].Name == c.Name {
		return false
	}
	for _, mo := range ix.monitors {
		m := mo.monitor
		if !m.pods || !m.watches(mo, w.obj) || !m.selector.Matches(w.podLabels()) {
			continue
		}
		if (p.Name != "" && slices.Contains(m.ports, p.Name)) || slices.Contains(m.targets, intstr.FromInt32(p.ContainerPort)) ||
			(p.Name != "" && slices.Contains(m.targets, intstr.FromString(p.Name))) {
			return true
		}
	}
	return false
}

// serviceRef is a Service that an object of the input sends traffic to.
type serviceRef struct{ namespace, name string }

// serviceRefsDoc holds the places where the API server, or a gateway,
// sends requests to a Service: an APIService, the webhooks of a webhook
// configuration, a CRD's conversion webhook, a Gateway API route of a kind
// or version the linter does not decode (TCPRoute, TLSRoute, UDPRoute).
type serviceRefsDoc struct {
	Spec struct {
		Service    *serviceRefDoc `json:"service"` // APIService
		Conversion *struct {
			Webhook *struct {
				ClientConfig struct {
					Service *serviceRefDoc `json:"service"`
				} `json:"clientConfig"`
			} `json:"webhook"`
		} `json:"conversion"`
		Rules []struct {
			BackendRefs []struct {
				Kind      *string `json:"kind"`
				Name      string  `json:"name"`
				Namespace string  `json:"namespace"`
			} `json:"backendRefs"`
		} `json:"rules"`
	} `json:"spec"`
	Webhooks []struct {
		ClientConfig struct {
			Service *serviceRefDoc `json:"service"`
		} `json:"clientConfig"`
	} `json:"webhooks"`
}

type serviceRefDoc struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// readServiceRefs lists the Services an object of a kind that sends
// traffic to Services names; none for other kinds.
func readServiceRefs(o *Object, doc []byte) []serviceRef {
	switch o.Kind {
	case "APIService", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "CustomResourceDefinition",
		"HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute", "UDPRoute":
	default:
		return nil
	}
	var d serviceRefsDoc
	if err := yaml.Unmarshal(doc, &d); err != nil {
		return nil
	}
	var out []serviceRef
	add := func(r *serviceRefDoc) {
		if r != nil {
			out = append(out, serviceRef{r.Namespace, r.Name})
		}
	}
	add(d.Spec.Service)
	if c := d.Spec.Conversion; c != nil && c.Webhook != nil {
		add(c.Webhook.ClientConfig.Service)
	}
	for _, wh := range d.Webhooks {
		add(wh.ClientConfig.Service)
	}
	for _, r := range d.Spec.Rules {
		for _, b := range r.BackendRefs {
			if b.Kind == nil || *b.Kind == "Service" {
				out = append(out, serviceRef{cmp.Or(b.Namespace, o.Namespace), b.Name})
			}
		}
	}
	return out
}

// routedTo reports whether an object of the input sends traffic to
// Service s: an Ingress backend, an HTTPRoute or GRPCRoute backendRef, or a
// reference read by readServiceRefs.
func (ix *index) routedTo(s *Object) bool {
	for _, in := range ix.ingresses {
		if sameNamespace(in.obj, s) && slices.ContainsFunc(ingressServiceBackends(in.v), func(b *networkingv1.IngressServiceBackend) bool { return b.Name == s.Name }) {
			return true
		}
	}
	for _, r := range ix.routes {
		for _, rule := range r.rules {
			for _, b := range rule.backends {
				if b.name == s.Name && b.namespace == s.Namespace {
					return true
				}
			}
		}
	}
	for _, o := range ix.referrers {
		for _, r := range o.serviceRefs {
			if r.name == s.Name && r.namespace == s.Namespace {
				return true
			}
		}
	}
	return false
}
