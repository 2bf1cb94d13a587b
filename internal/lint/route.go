package lint

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Gateway API routes send a gateway's requests to Services, as an Ingress
// does: an HTTPRoute or GRPCRoute names each backend Service and its port
// in a backendRef. The rules below hold routes to what ingress-backend and
// service-selects-nothing hold Ingresses and Services to, and to the two
// things a route adds: the protocol a gRPC backend is spoken to in, and a
// request timeout that the backend's pods must be able to honour while they
// stop. Routes also make the ports they name serve (see routedPort).

func routeRules() []Rule {
	return []Rule{
		{ID: "route-backend-port", Severity: Error, check: checkRouteBackendPort,
			Summary: "every HTTPRoute and GRPCRoute backendRef to a Service has a port, one the Service declares when it is in the input"},
		{ID: "route-backend-selects-nothing", Severity: Error, check: checkRouteBackendSelectsNothing,
			Summary: "every Service an HTTPRoute or GRPCRoute sends requests to selects the pods of a workload in the input"},
		{ID: "grpcroute-backend-protocol", Severity: Warning, check: checkGRPCRouteBackendProtocol,
			Summary: "every GRPCRoute backend port declares HTTP/2 to the gateway: appProtocol kubernetes.io/h2c (or https), or no appProtocol and a name starting with grpc"},
		{ID: "route-timeout-drain", Severity: Warning, check: checkRouteTimeoutDrain,
			Summary: "HTTPRoute timeouts are no longer than SHUTDOWN_TIMEOUT, the time a stopping pod gives requests in flight, so its shutdown cuts none the gateway still waits for"},
	}
}

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

// serviceNamed finds a Service of the input by namespace and name.
func (ix *index) serviceNamed(namespace, name string) (typed[*corev1.Service], bool) {
	for _, s := range ix.services {
		if s.obj.Name == name && s.obj.Namespace == namespace {
			return s, true
		}
	}
	return typed[*corev1.Service]{}, false
}

// servicePort finds the port of a Service by number, as a backendRef names
// it: the Service's port, not the targetPort behind it.
// backendPort resolves a backend that carries traffic to its Service and
// the index of the Service port it names, when the Service is in the input
// and declares that port.
func (ix *index) backendPort(b routeBackend) (typed[*corev1.Service], int, bool) {
	if !b.carries() || b.port == nil {
		return typed[*corev1.Service]{}, 0, false
	}
	s, ok := ix.serviceNamed(b.namespace, b.name)
	if !ok {
		return s, 0, false
	}
	i, ok := servicePort(s.v, *b.port)
	return s, i, ok
}

func servicePort(s *corev1.Service, number int32) (int, bool) {
	i := slices.IndexFunc(s.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == number })
	return i, i >= 0
}

// routedPort reports whether a route or an Ingress of the input sends
// clients to port p of Service s. Such a port serves whatever its name says:
// a route to a port named metrics puts client requests on it, and a rollout
// that drops them fails them.
func (ix *index) routedPort(s typed[*corev1.Service], p corev1.ServicePort) bool {
	for _, r := range ix.routes {
		for _, rule := range r.rules {
			for _, b := range rule.backends {
				if b.name == s.obj.Name && b.namespace == s.obj.Namespace && b.port != nil && *b.port == p.Port {
					return true
				}
			}
		}
	}
	for _, in := range ix.ingresses {
		if !sameNamespace(in.obj, s.obj) {
			continue
		}
		for _, b := range ingressServiceBackends(in.v) {
			if b.Name == s.obj.Name && ((b.Port.Name != "" && b.Port.Name == p.Name) || (b.Port.Name == "" && b.Port.Number == p.Port)) {
				return true
			}
		}
	}
	return false
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

// checkRouteBackendPort: the API server rejects a route whose backendRef to
// a Service has no port (the CRD's "Must have port for Service reference"),
// and a gateway cannot resolve a port the Service lacks: the requests that
// would go there fail with a 500. A Service the input does not hold lives
// elsewhere, and its ports cannot be judged.
func checkRouteBackendPort(ix *index, e *emitter) {
	for _, r := range ix.routes {
		for _, rule := range r.rules {
			for _, b := range rule.backends {
				if b.port == nil {
					e.addf(r.obj, b.field, "set port to the number of the Service port to send to (the Service's port, not the pod's targetPort)",
						"the backendRef to Service %s has no port: the API server rejects the %s, since a backendRef to a Service must name one of its ports", b.name, r.obj.Kind)
					continue
				}
				s, ok := ix.serviceNamed(b.namespace, b.name)
				if !ok {
					continue
				}
				if _, ok := servicePort(s.v, *b.port); ok {
					continue
				}
				var declared, hint []string
				for _, p := range s.v.Spec.Ports {
					declared = append(declared, portName(p))
					if tp := targetPort(p); tp.IntValue() == int(*b.port) {
						hint = append(hint, fmt.Sprintf(" (%d is the targetPort of port %s: a backendRef names the Service's port, not the pod's)", *b.port, portName(p)))
					}
				}
				e.addf(r.obj, b.field+".port", fmt.Sprintf("use a port number that Service %s declares: %s", b.name, strings.Join(declared, ", ")),
					"Service %s has no port %d%s: the gateway cannot resolve this backend and answers 500 for the requests it would send there",
					b.name, *b.port, strings.Join(hint, ""))
			}
		}
	}
}

// selectsNothing reports whether Service s has a selector that matches no
// pod of the input, where the input holds the pods of its namespace and no
// custom resource there suggests that an operator makes them.
func (ix *index) selectsNothing(s typed[*corev1.Service]) bool {
	sel := serviceSelector(s.v.Spec.Selector)
	return sel != nil && ix.hasPodsIn(s.obj) && !ix.selectsAnyPods(s.obj, sel) && !ix.operatorMayMake(s.obj, sel)
}

// checkRouteBackendSelectsNothing: a Service that selects no pod has no
// endpoints, so the gateway has nowhere to send the rule's requests.
// service-selects-nothing warns of the Service itself, which may be unused;
// a route that sends it requests makes that an outage.
func checkRouteBackendSelectsNothing(ix *index, e *emitter) {
	for _, r := range ix.routes {
		for _, rule := range r.rules {
			for _, b := range rule.backends {
				s, ok := ix.serviceNamed(b.namespace, b.name)
				if !ok || !b.carries() || !ix.selectsNothing(s) {
					continue
				}
				e.addf(r.obj, b.field+".name", fmt.Sprintf("make the selector of Service %s match the pod labels of the workload it fronts, or send the route to the Service that does", b.name),
					"Service %s selects no pod of this input in %s: it has no endpoints, so the gateway has nowhere to send the requests of this backend and fails them (503)",
					b.name, namespaceName(s.obj))
			}
		}
	}
}

// A gRPC server speaks HTTP/2 only. Over TLS, gateway and backend agree on
// HTTP/2 by ALPN, but in cleartext there is nothing to negotiate with: the
// gateway must open the connection in HTTP/2 from the first byte (h2c with
// prior knowledge), and a proxy speaks HTTP/1.1 to a backend unless told
// otherwise. Kubernetes names that protocol appProtocol kubernetes.io/h2c
// (KEP-3726), and Gateway API's backend protocol selection reads it
// (standard channel since v1.2, with conformance tests). Without an
// appProtocol, a gateway may infer the protocol from the route's kind:
// Traefik and Envoy Gateway speak HTTP/2 to a GRPCRoute's backends, and
// Istio reads a port name that starts with grpc. Any other appProtocol is
// read as what it says, or refused: Traefik's Gateway provider accepts only
// kubernetes.io/h2c and https on a GRPCRoute backend and reports any other
// value, grpc included, as UnsupportedProtocol, and Envoy Gateway reads
// grpc only with its gRPC compatibility option.

// grpcPortProblem says why a Service port does not tell a gateway to speak
// gRPC's HTTP/2 to it, or "" when it does.
func grpcPortProblem(p corev1.ServicePort) string {
	if p.AppProtocol == nil {
		if strings.HasPrefix(strings.ToLower(p.Name), "grpc") {
			return ""
		}
		return "declares no appProtocol and is not named grpc: the gateway must guess that it speaks HTTP/2 in cleartext (h2c), as gRPC needs. Traefik and Envoy Gateway guess so from the GRPCRoute, but a gateway that speaks HTTP/1.1 to it fails every call; and a port that no name marks as gRPC is often the HTTP one"
	}
	switch ap := strings.ToLower(*p.AppProtocol); ap {
	case "kubernetes.io/h2c", "https":
		return ""
	case "grpc":
		return "declares appProtocol grpc, which Gateway API does not define: Traefik's Gateway provider refuses the backend (it accepts kubernetes.io/h2c and https), and Envoy Gateway reads grpc only with its gRPC compatibility option"
	default:
		return fmt.Sprintf("declares appProtocol %s, not HTTP/2: a gateway that reads appProtocol speaks %s to it or refuses the backend, and a gRPC server answers only HTTP/2", *p.AppProtocol, *p.AppProtocol)
	}
}

func checkGRPCRouteBackendProtocol(ix *index, e *emitter) {
	for _, r := range ix.routes {
		if !r.grpc {
			continue
		}
		for _, rule := range r.rules {
			for _, b := range rule.backends {
				s, i, ok := ix.backendPort(b)
				if !ok {
					continue // route-backend-port's, if the port is wrong
				}
				p := s.v.Spec.Ports[i]
				why := grpcPortProblem(p)
				if why == "" {
					continue
				}
				e.addf(r.obj, b.field+".port",
					fmt.Sprintf("set appProtocol: kubernetes.io/h2c on port %s of Service %s (spec.ports[%d]) if it serves gRPC in cleartext; if it is not the gRPC port, send the route to the one that is", portName(p), b.name, i),
					"port %s of Service %s %s", portName(p), b.name, why)
			}
		}
	}
}

// inFlightBound is how long a container has to finish a request that
// reaches it just before it stops taking new ones, at the end of its drain:
// its graceful-stop timeout S when the input sets it, else what is left of
// the grace period after the preStop sleep and the drain delay, when the
// kubelet kills it. ok is false when the grace period is spent before.
func (t timeline) inFlightBound() (bound time.Duration, how string, ok bool) {
	if t.stopFrom != "" {
		return t.stop, t.stopFrom + " " + seconds(t.stop), true
	}
	bound = t.grace - t.hook.sleep - t.delay
	how = "terminationGracePeriodSeconds " + seconds(t.grace)
	if drain := t.hook.sleep + t.delay; drain > 0 {
		how += " less its drain of " + seconds(drain)
	}
	return bound, how + ", after which it is killed", bound > 0
}

// checkRouteTimeoutDrain: when a pod stops, it keeps serving through its
// drain delay D, and then stops taking requests and gives those in flight
// up to S (SHUTDOWN_TIMEOUT) before it closes them; SIGKILL ends the rest
// at terminationGracePeriodSeconds. A request that reaches the pod as D
// ends has S to finish. A route that lets the gateway wait longer than S
// for it admits requests that the pod's shutdown cuts: the client sees a
// reset or a 502 for a request that would have succeeded on a pod that was
// not stopping. A timeout at most S keeps every request the gateway waits
// for inside the pod's drain. (A timeout shorter than D cuts nothing that
// D would not: a pod serves normally during D.)
func checkRouteTimeoutDrain(ix *index, e *emitter) {
	for _, r := range ix.routes {
		for _, rule := range r.rules {
			if rule.timeout == 0 {
				continue
			}
			seen := map[string]bool{}
			for _, b := range rule.backends {
				s, i, ok := ix.backendPort(b)
				if !ok {
					continue
				}
				for _, w := range ix.podsSelectedBy(s.obj, serviceSelector(s.v.Spec.Selector)) {
					name, ok := servingContainer(w.spec(), targetPort(s.v.Spec.Ports[i]))
					key := w.kind() + "/" + w.obj.Name + "/" + name
					if !ok || seen[key] {
						continue
					}
					seen[key] = true
					c := w.containers()[slices.IndexFunc(w.spec().Containers, func(c corev1.Container) bool { return c.Name == name })]
					t := ix.timeline(w, c)
					if len(t.unresolved) > 0 || len(t.invalid) > 0 {
						continue // grace-unresolved's
					}
					bound, how, ok := t.inFlightBound()
					if !ok || rule.timeout <= bound {
						continue
					}
					fix := fmt.Sprintf("lower %s to %s, or let container %s finish requests for %s after its drain", rule.timeoutField, seconds(bound), c.Name, seconds(rule.timeout))
					if t.stopFrom != "" {
						fix = fmt.Sprintf("lower %s to %s, or raise %s of container %s to %s (and terminationGracePeriodSeconds with it: grace-budget checks the sum)", rule.timeoutField, seconds(bound), t.stopFrom, c.Name, seconds(rule.timeout))
					}
					e.addf(r.obj, rule.timeoutField, fix,
						"the gateway waits up to %s for container %s of %s %s (Service %s), which has %s (%s) to finish a request in flight when it stops: a request that reaches a stopping pod as its drain ends and runs longer than that is cut by the pod, though the gateway would still wait for it",
						seconds(rule.timeout), c.Name, w.kind(), w.obj.Name, b.name, seconds(bound), how)
				}
			}
		}
	}
}
