package lint

import (
	"strings"
	"testing"
)

// shopAPI is a Deployment in namespace shop that serves HTTP on 8080 and
// gRPC on 9090, drains for 10s and then gives requests in flight 15s, as the
// generated service does; env is more of its environment.
func shopAPI(env string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  replicas: 3
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      terminationGracePeriodSeconds: 30
      containers:
      - name: api
        image: api:1.0
        env: [` + env + `]
        ports: [{name: http, containerPort: 8080}, {name: grpc, containerPort: 9090}]
`
}

const shopEnv = "{name: SHUTDOWN_DELAY, value: 10s}, {name: SHUTDOWN_TIMEOUT, value: 15s}"

// shopService is Service api in namespace shop with the given ports,
// selecting the API's pods.
func shopService(ports string) string {
	return `apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  selector: {app: api}
  ports:
` + ports
}

const shopPorts = `  - {name: http, port: 80, targetPort: http, appProtocol: http}
  - {name: grpc, port: 9090, targetPort: grpc, appProtocol: kubernetes.io/h2c}
`

// httpRoute and grpcRoute are routes named web in namespace ns (none when
// empty) with the given rules.
func httpRoute(ns, rules string) string { return gatewayRoute("HTTPRoute", ns, rules) }
func grpcRoute(ns, rules string) string { return gatewayRoute("GRPCRoute", ns, rules) }
func gatewayRoute(kind, ns, rules string) string {
	meta := "{name: web}"
	if ns != "" {
		meta = "{name: web, namespace: " + ns + "}"
	}
	return `apiVersion: gateway.networking.k8s.io/v1
kind: ` + kind + `
metadata: ` + meta + `
spec:
  parentRefs: [{name: gateway, namespace: infra}]
  rules:
` + rules
}

// shop is the API, its Service with the usual ports, and more objects.
func shop(extra ...string) string {
	return stream(append([]string{shopAPI(shopEnv), shopService(shopPorts)}, extra...))
}

// routeCase is one table row: the input, whether rule fires, and what its
// first finding says.
type routeCase struct {
	name  string
	yaml  string
	fires bool
	field string   // the finding's field, when it fires
	says  []string // in the message
	fix   string   // in the fix
}

func runRouteCases(t *testing.T, rule string, tests []routeCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, fired := lintFires(t, tt.yaml, rule, tt.fires)
			if !fired {
				return
			}
			if tt.field != "" && f.Field != tt.field {
				t.Errorf("finding at %s, want %s", f.Field, tt.field)
			}
			for _, s := range tt.says {
				if !strings.Contains(f.Message, s) {
					t.Errorf("message %q does not say %q", f.Message, s)
				}
			}
			if !strings.Contains(f.Fix, tt.fix) {
				t.Errorf("fix %q does not say %q", f.Fix, tt.fix)
			}
		})
	}
}

// TestRouteBackendPort: a backendRef names a Service port by number, the
// Service's port and not the targetPort; one without a port is rejected
// by the API server; a Service the input lacks cannot be judged (issue #31).
func TestRouteBackendPort(t *testing.T) {
	runRouteCases(t, "route-backend-port", []routeCase{
		{name: "the HTTP port by number", yaml: shop(httpRoute("shop", "  - backendRefs: [{name: api, port: 80}]\n"))},
		{name: "the gRPC port, from a GRPCRoute", yaml: shop(grpcRoute("shop", "  - backendRefs: [{name: api, port: 9090}]\n"))},
		{name: "an unnamed Service port", yaml: stream([]string{shopAPI(shopEnv), shopService("  - {port: 80, targetPort: 8080}\n"),
			httpRoute("shop", "  - backendRefs: [{name: api, port: 80}]\n")})},
		{name: "kind and group spelled out", yaml: shop(httpRoute("shop", "  - backendRefs: [{group: \"\", kind: Service, name: api, port: 80}]\n"))},
		{name: "a port the Service lacks", yaml: shop(httpRoute("shop", "  - backendRefs: [{name: api, port: 81}]\n")), fires: true,
			field: "spec.rules[0].backendRefs[0].port", says: []string{"Service api has no port 81", "answers 500"},
			fix: `Service api declares: "http" (80), "grpc" (9090)`},
		{name: "the container port instead of the Service port", yaml: stream([]string{shopAPI(shopEnv), shopService("  - {name: http, port: 80, targetPort: 8080}\n"),
			httpRoute("shop", "  - backendRefs: [{name: api, port: 8080}]\n")}), fires: true,
			says: []string{"no port 8080", `8080 is the targetPort of port "http" (80)`}},
		{name: "a GRPCRoute to a port the Service lacks, in its second rule", yaml: shop(grpcRoute("shop",
			"  - backendRefs: [{name: api, port: 9090}]\n  - matches: [{method: {service: shop.v1.Admin}}]\n    backendRefs: [{name: api, port: 9091}]\n")), fires: true,
			field: "spec.rules[1].backendRefs[0].port", says: []string{"no port 9091"}},
		{name: "no port: the API server rejects the route", yaml: shop(httpRoute("shop", "  - backendRefs: [{name: api}]\n")), fires: true,
			field: "spec.rules[0].backendRefs[0]", says: []string{"has no port", "API server rejects the HTTPRoute"}, fix: "not the pod's targetPort"},
		{name: "no port, to a Service the input lacks", yaml: shop(httpRoute("shop", "  - backendRefs: [{name: elsewhere}]\n")), fires: true,
			says: []string{"Service elsewhere has no port"}},
		{name: "a Service the input lacks", yaml: shop(httpRoute("shop", "  - backendRefs: [{name: elsewhere, port: 81}]\n"))},
		{name: "cross-namespace: the Service's port", yaml: shop(httpRoute("edge", "  - backendRefs: [{name: api, namespace: shop, port: 80}]\n"))},
		{name: "cross-namespace: a port the Service lacks", yaml: shop(httpRoute("edge", "  - backendRefs: [{name: api, namespace: shop, port: 81}]\n")), fires: true,
			says: []string{"Service api has no port 81"}},
		{name: "the route's namespace holds no Service of that name", yaml: shop(httpRoute("edge", "  - backendRefs: [{name: api, port: 81}]\n"))},
		{name: "a backend of another kind", yaml: shop(httpRoute("shop", "  - backendRefs: [{group: multicluster.x-k8s.io, kind: ServiceImport, name: api, port: 81}]\n"))},
	})
}

// TestRouteBackendSelectsNothing: a route's Service with no pods of the
// input has no endpoints: an error on the route, where the Service alone is
// only service-selects-nothing's warning (issue #31).
func TestRouteBackendSelectsNothing(t *testing.T) {
	mislabelled := shopService("  - {name: http, port: 80, targetPort: http}\n")
	mislabelled = strings.Replace(mislabelled, "selector: {app: api}", "selector: {app: apii}", 1)
	runRouteCases(t, "route-backend-selects-nothing", []routeCase{
		{name: "the Service selects the API's pods", yaml: shop(httpRoute("shop", "  - backendRefs: [{name: api, port: 80}]\n"))},
		{name: "the Service selects nothing", yaml: stream([]string{shopAPI(shopEnv), mislabelled, httpRoute("shop", "  - backendRefs: [{name: api, port: 80}]\n")}), fires: true,
			field: "spec.rules[0].backendRefs[0].name", says: []string{"Service api selects no pod of this input in namespace shop", "503"}, fix: "selector of Service api"},
		{name: "a GRPCRoute, across namespaces", yaml: stream([]string{shopAPI(shopEnv), mislabelled, grpcRoute("edge", "  - backendRefs: [{name: api, namespace: shop, port: 80}]\n")}), fires: true,
			says: []string{"in namespace shop"}},
		{name: "a backend of weight 0 takes no requests", yaml: stream([]string{shopAPI(shopEnv), mislabelled,
			httpRoute("shop", "  - backendRefs: [{name: other, port: 80}, {name: api, port: 80, weight: 0}]\n")})},
		{name: "no pods of the Service's namespace in the input", yaml: stream([]string{shopAPI(shopEnv), strings.ReplaceAll(mislabelled, "namespace: shop", "namespace: billing"),
			httpRoute("billing", "  - backendRefs: [{name: api, port: 80}]\n")})},
		{name: "a Service without a selector", yaml: stream([]string{shopAPI(shopEnv), strings.Replace(mislabelled, "  selector: {app: apii}\n", "", 1),
			httpRoute("shop", "  - backendRefs: [{name: api, port: 80}]\n")})},
		{name: "a Service the input lacks", yaml: shop(httpRoute("shop", "  - backendRefs: [{name: elsewhere, port: 80}]\n"))},
	})
	// The Service itself stays service-selects-nothing's warning.
	lintFires(t, stream([]string{shopAPI(shopEnv), mislabelled, httpRoute("shop", "  - backendRefs: [{name: api, port: 80}]\n")}), "service-selects-nothing", true)
}

// TestGRPCRouteBackendProtocol: a GRPCRoute's backend port must tell the
// gateway to speak HTTP/2 in cleartext, or at least be named for gRPC
// (issue #31).
func TestGRPCRouteBackendProtocol(t *testing.T) {
	to := func(port string) string {
		return stream([]string{shopAPI(shopEnv), shopService(port + "\n"), grpcRoute("shop", "  - backendRefs: [{name: api, port: 9090}]\n")})
	}
	runRouteCases(t, "grpcroute-backend-protocol", []routeCase{
		{name: "appProtocol kubernetes.io/h2c", yaml: to("  - {name: grpc, port: 9090, targetPort: grpc, appProtocol: kubernetes.io/h2c}")},
		{name: "appProtocol kubernetes.io/h2c on a port named api", yaml: to("  - {name: api, port: 9090, targetPort: grpc, appProtocol: kubernetes.io/h2c}")},
		{name: "appProtocol https: HTTP/2 by ALPN", yaml: to("  - {name: grpcs, port: 9090, targetPort: grpc, appProtocol: https}")},
		{name: "no appProtocol, named grpc", yaml: to("  - {name: grpc, port: 9090, targetPort: grpc}")},
		{name: "no appProtocol, named grpc-api", yaml: to("  - {name: grpc-api, port: 9090, targetPort: grpc}")},
		{name: "appProtocol grpc, which Traefik refuses", yaml: to("  - {name: grpc, port: 9090, targetPort: grpc, appProtocol: grpc}"), fires: true,
			field: "spec.rules[0].backendRefs[0].port", says: []string{`port "grpc" (9090) of Service api declares appProtocol grpc`, "Traefik"},
			fix: `set appProtocol: kubernetes.io/h2c on port "grpc" (9090) of Service api (spec.ports[0])`},
		{name: "the HTTP port", yaml: to("  - {name: http, port: 9090, targetPort: http, appProtocol: http}"), fires: true,
			says: []string{"declares appProtocol http, not HTTP/2"}, fix: "send the route to the one that is"},
		{name: "no appProtocol, named http", yaml: to("  - {name: http, port: 9090, targetPort: grpc}"), fires: true,
			says: []string{"declares no appProtocol and is not named grpc"}},
		{name: "no appProtocol, no name", yaml: to("  - {port: 9090, targetPort: 9090}"), fires: true,
			says: []string{"port 9090 of Service api declares no appProtocol"}},
		{name: "an HTTPRoute to the HTTP port", yaml: shop(httpRoute("shop", "  - backendRefs: [{name: api, port: 80}]\n"))},
		{name: "a port the Service lacks: route-backend-port's", yaml: shop(grpcRoute("shop", "  - backendRefs: [{name: api, port: 9091}]\n"))},
		{name: "cross-namespace, to the HTTP port", yaml: shop(grpcRoute("edge", "  - backendRefs: [{name: api, namespace: shop, port: 80}]\n")), fires: true,
			says: []string{`port "http" (80) of Service api declares appProtocol http`}},
		{name: "a Service the input lacks", yaml: shop(grpcRoute("shop", "  - backendRefs: [{name: elsewhere, port: 80}]\n"))},
	})
}

// TestRouteTimeoutDrain: a request that reaches a stopping pod as its drain
// delay ends has the graceful-stop timeout S to finish; a route that waits
// longer for it lets the pod's shutdown cut it (issue #31).
func TestRouteTimeoutDrain(t *testing.T) {
	timeouts := func(t string) string {
		return "  - backendRefs: [{name: api, port: 80}]\n    timeouts: " + t + "\n"
	}
	runRouteCases(t, "route-timeout-drain", []routeCase{
		{name: "request within S", yaml: shop(httpRoute("shop", timeouts("{request: 10s}")))},
		{name: "request equal to S", yaml: shop(httpRoute("shop", timeouts("{request: 15s}")))},
		{name: "request longer than S", yaml: shop(httpRoute("shop", timeouts("{request: 30s}"))), fires: true,
			field: "spec.rules[0].timeouts.request",
			says:  []string{"waits up to 30s for container api of Deployment api (Service api)", "has 15s (SHUTDOWN_TIMEOUT 15s)"},
			fix:   "lower spec.rules[0].timeouts.request to 15s, or raise SHUTDOWN_TIMEOUT of container api to 30s"},
		{name: "request longer than S in minutes", yaml: shop(httpRoute("shop", timeouts("{request: 1m}"))), fires: true, says: []string{"up to 60s"}},
		{name: "backendRequest bounds each attempt", yaml: shop(httpRoute("shop", timeouts("{request: 60s, backendRequest: 10s}")))},
		{name: "backendRequest longer than S", yaml: shop(httpRoute("shop", timeouts("{request: 60s, backendRequest: 20s}"))), fires: true,
			field: "spec.rules[0].timeouts.backendRequest", says: []string{"up to 20s"}},
		{name: "request turned off", yaml: shop(httpRoute("shop", timeouts("{request: 0s}")))},
		{name: "no timeouts: the gateway's default, which the input does not tell", yaml: shop(httpRoute("shop", "  - backendRefs: [{name: api, port: 80}]\n"))},
		{name: "S set by flag", yaml: stream([]string{strings.Replace(shopAPI("{name: SHUTDOWN_DELAY, value: 10s}"), "image: api:1.0", "image: api:1.0\n        args: [--shutdown-timeout=5s]", 1),
			shopService(shopPorts), httpRoute("shop", timeouts("{request: 10s}"))}), fires: true,
			says: []string{"has 5s (--shutdown-timeout 5s)"}},
		{name: "no S: the grace period after the drain bounds it", yaml: stream([]string{shopAPI("{name: SHUTDOWN_DELAY, value: 10s}"), shopService(shopPorts), httpRoute("shop", timeouts("{request: 25s}"))}), fires: true,
			says: []string{"has 20s (terminationGracePeriodSeconds 30s less its drain of 10s, after which it is killed)"}, fix: "let container api finish requests for 25s after its drain"},
		{name: "no S, within the grace period after the drain", yaml: stream([]string{shopAPI("{name: SHUTDOWN_DELAY, value: 10s}"), shopService(shopPorts), httpRoute("shop", timeouts("{request: 20s}"))})},
		{name: "S in a ConfigMap the input lacks", yaml: stream([]string{strings.Replace(shopAPI("{name: SHUTDOWN_DELAY, value: 10s}"), "ports:", "envFrom: [{configMapRef: {name: elsewhere}}]\n        ports:", 1),
			shopService(shopPorts), httpRoute("shop", timeouts("{request: 60s}"))})},
		{name: "cross-namespace", yaml: shop(httpRoute("edge", "  - backendRefs: [{name: api, namespace: shop, port: 80}]\n    timeouts: {request: 30s}\n")), fires: true,
			says: []string{"has 15s"}},
		{name: "a Service the input lacks", yaml: shop(httpRoute("shop", "  - backendRefs: [{name: elsewhere, port: 80}]\n    timeouts: {request: 30s}\n"))},
	})
}

// TestRoutesMakeServicesServe: a port that a route sends clients to serves,
// whatever its name, and a sidecar's port that a ServiceMonitor scrapes
// serves once a route sends the Service requests (issue #31).
func TestRoutesMakeServicesServe(t *testing.T) {
	// A pod that shows no drain: drain-missing fires only on a serving one.
	metricsOnly := func(extra ...string) string {
		return stream(append([]string{`apiVersion: apps/v1
kind: Deployment
metadata: {name: stats, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: stats}}
  template:
    metadata: {labels: {app: stats}}
    spec:
      containers: [{name: stats, image: stats:1.0, ports: [{name: metrics, containerPort: 9100}]}]
`, `apiVersion: v1
kind: Service
metadata: {name: stats, namespace: shop}
spec:
  selector: {app: stats}
  ports: [{name: metrics, port: 9100, targetPort: metrics}]
`}, extra...))
	}
	tests := []struct {
		name  string
		yaml  string
		fires bool
	}{
		{"a metrics port and nothing else", metricsOnly(), false},
		{"a metrics port that an HTTPRoute sends clients to", metricsOnly(httpRoute("shop", "  - backendRefs: [{name: stats, port: 9100}]\n")), true},
		{"a metrics port that a route in another namespace sends clients to", metricsOnly(httpRoute("edge", "  - backendRefs: [{name: stats, namespace: shop, port: 9100}]\n")), true},
		{"a route to a Service of that name in another namespace", metricsOnly(httpRoute("edge", "  - backendRefs: [{name: stats, port: 9100}]\n")), false},
		{"a route to another port of the Service", metricsOnly(httpRoute("shop", "  - backendRefs: [{name: stats, port: 9101}]\n")), false},
		{"a metrics port that an Ingress sends clients to", metricsOnly(`apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: stats, namespace: shop}
spec:
  rules: [{http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: stats, port: {name: metrics}}}}]}}]
`), true},
		{"a scraped sidecar port", exporter("https-main", exporterService, exporterServiceMonitor), false},
		{"a scraped sidecar port that an HTTPRoute sends requests to", exporter("https-main", exporterService, exporterServiceMonitor,
			httpRoute("mon", "  - backendRefs: [{name: exporter, port: 8443}]\n")), true},
		{"a scraped sidecar port that a GRPCRoute sends requests to", exporter("https-main", exporterService, exporterServiceMonitor,
			grpcRoute("mon", "  - backendRefs: [{name: exporter, port: 8443}]\n")), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lintFires(t, tt.yaml, "drain-missing", tt.fires)
		})
	}
}

// TestCorpusBaseWithRoutesIsClean: the corpus base behind Gateway API, an
// HTTPRoute to its HTTP port with a timeout within its graceful stop and a
// GRPCRoute to its h2c port, draws no finding; each route rule's corpus case
// breaks one of these.
func TestCorpusBaseWithRoutesIsClean(t *testing.T) {
	in := loadCase(t, corpusDir+"/base")
	in.Add(loadString(t, stream([]string{
		strings.ReplaceAll(httpRoute("example-service", `  - backendRefs: [{name: example-service, port: 80}]
    timeouts: {request: 15s, backendRequest: 10s}
`), "name: web", "name: example-service"),
		strings.ReplaceAll(grpcRoute("example-service", "  - backendRefs: [{name: example-service, port: 9090}]\n"), "name: web", "name: example-service"),
	})))
	r, err := Lint(in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) > 0 || r.Objects != 10 {
		t.Fatalf("%d objects, want 10, and findings:\n%s", r.Objects, text(t, r))
	}
}
