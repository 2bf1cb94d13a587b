package lint

import (
	"fmt"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
)

func ingressRules() []Rule {
	return []Rule{
		{ID: "ingress-backend", Severity: Error, check: checkIngressBackend,
			Summary: "every Ingress backend names a Service of the input and one of its ports"},
	}
}

func checkIngressBackend(ix *index, e *emitter) {
	if len(ix.services) == 0 {
		return // the Services live elsewhere
	}
	for _, ing := range ix.ingresses {
		type backend struct {
			field string
			b     *networkingv1.IngressBackend
		}
		var backends []backend
		if ing.v.Spec.DefaultBackend != nil {
			backends = append(backends, backend{"spec.defaultBackend", ing.v.Spec.DefaultBackend})
		}
		for i, r := range ing.v.Spec.Rules {
			if r.HTTP == nil {
				continue
			}
			for j := range r.HTTP.Paths {
				backends = append(backends, backend{fmt.Sprintf("spec.rules[%d].http.paths[%d].backend", i, j), &r.HTTP.Paths[j].Backend})
			}
		}
		for _, b := range backends {
			if b.b.Service == nil {
				continue
			}
			checkBackend(ix, e, ing.obj, b.field+".service", b.b.Service)
		}
	}
}

func checkBackend(ix *index, e *emitter, o *Object, field string, b *networkingv1.IngressServiceBackend) {
	svc, ok := ix.service(o, b.Name)
	if !ok {
		var elsewhere []string
		for _, s := range ix.services {
			if s.obj.Name == b.Name {
				elsewhere = append(elsewhere, namespaceName(s.obj))
			}
		}
		if len(elsewhere) > 0 {
			e.addf(o, "metadata.namespace", "put the Ingress in the Service's namespace",
				"the Ingress is in %s but Service %s is in %s: backends resolve in the Ingress's own namespace, so this path answers 503",
				namespaceName(o), b.Name, strings.Join(elsewhere, ", "))
			return
		}
		e.addf(o, field+".name", "name a Service of the same namespace (check name prefixes and suffixes added by kustomize)",
			"Service %s is not in the input: the Ingress answers 503 for this path", b.Name)
		return
	}
	for _, p := range svc.v.Spec.Ports {
		if (b.Port.Name != "" && p.Name == b.Port.Name) || (b.Port.Name == "" && p.Port == b.Port.Number) {
			return
		}
	}
	port := fmt.Sprint(b.Port.Number)
	if b.Port.Name != "" {
		port = fmt.Sprintf("%q", b.Port.Name)
	}
	e.addf(o, field+".port", fmt.Sprintf("use a port name or number that Service %s declares", b.Name),
		"Service %s has no port %s: the Ingress answers 503 for this path", b.Name, port)
}
