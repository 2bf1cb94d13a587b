package lint

import (
	"fmt"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Gateway API routes send a gateway's requests to Services, as an Ingress
// does: an HTTPRoute or GRPCRoute names each backend Service and its port
// in a backendRef.

// route is an HTTPRoute or GRPCRoute, reduced to its rules' Service backends.
type route struct {
	obj   *Object
	grpc  bool
	rules []routeRule
}

// routeRule is one of spec.rules.
type routeRule struct {
	// timeout is the longest the gateway waits for one backend to answer a
	// request of the rule (timeouts.backendRequest, else timeouts.request);
	// 0 when neither sets a bound. timeoutField is where it is set.
	timeout      time.Duration
	timeoutField string
	backends     []routeBackend
}

// routeBackend is a backendRef to a Service (kind Service or unset, core
// group); backendRefs to other kinds are left out.
type routeBackend struct {
	field     string // spec.rules[i].backendRefs[j]
	namespace string // the Service's: backendRef.namespace, else the route's
	name      string
	port      *int32
	weight    *int32
}

// carries reports whether the gateway sends the backend any request: a
// weight of 0 takes it out of the rotation.
func (b routeBackend) carries() bool { return b.weight == nil || *b.weight > 0 }

// newRoute reads a decoded HTTPRoute or GRPCRoute; GRPCRoute has no
// timeouts in Gateway API v1.
func newRoute(o *Object) (route, bool) {
	r := route{obj: o}
	switch v := o.Typed.(type) {
	case *gatewayv1.HTTPRoute:
		for i, rule := range v.Spec.Rules {
			rr := routeRule{}
			rr.timeout, rr.timeoutField = attemptTimeout(rule.Timeouts, fmt.Sprintf("spec.rules[%d].timeouts", i))
			for j, b := range rule.BackendRefs {
				rr.add(o, b.BackendRef, fmt.Sprintf("spec.rules[%d].backendRefs[%d]", i, j))
			}
			r.rules = append(r.rules, rr)
		}
	case *gatewayv1.GRPCRoute:
		r.grpc = true
		for i, rule := range v.Spec.Rules {
			rr := routeRule{}
			for j, b := range rule.BackendRefs {
				rr.add(o, b.BackendRef, fmt.Sprintf("spec.rules[%d].backendRefs[%d]", i, j))
			}
			r.rules = append(r.rules, rr)
		}
	default:
		return route{}, false
	}
	return r, true
}

func (rr *routeRule) add(o *Object, b gatewayv1.BackendRef, field string) {
	if (b.Kind != nil && *b.Kind != "Service") || (b.Group != nil && *b.Group != "") {
		return
	}
	ns := o.Namespace
	if b.Namespace != nil {
		ns = string(*b.Namespace)
	}
	rr.backends = append(rr.backends, routeBackend{field: field, namespace: ns, name: string(b.Name), port: b.Port, weight: b.Weight})
}

// attemptTimeout is the longest the gateway waits for one backend's answer:
// backendRequest bounds each attempt, and request the whole exchange, so
// each attempt too. A zero duration turns a timeout off, and an unset one is
// the gateway's own default, which the input does not tell.
func attemptTimeout(t *gatewayv1.HTTPRouteTimeouts, field string) (time.Duration, string) {
	if t == nil {
		return 0, ""
	}
	for _, c := range []struct {
		d    *gatewayv1.Duration
		name string
	}{{t.BackendRequest, "backendRequest"}, {t.Request, "request"}} {
		if c.d == nil {
			continue
		}
		if d, err := time.ParseDuration(string(*c.d)); err == nil && d > 0 {
			return d, field + "." + c.name
		}
	}
	return 0, ""
}

// ingressServiceBackends lists the Service backends of an Ingress: its
// default backend and those of its paths.
func ingressServiceBackends(in *networkingv1.Ingress) []*networkingv1.IngressServiceBackend {
	var out []*networkingv1.IngressServiceBackend
	if b := in.Spec.DefaultBackend; b != nil && b.Service != nil {
		out = append(out, b.Service)
	}
	for _, r := range in.Spec.Rules {
		if r.HTTP == nil {
			continue
		}
		for _, p := range r.HTTP.Paths {
			if p.Backend.Service != nil {
				out = append(out, p.Backend.Service)
			}
		}
	}
	return out
}
