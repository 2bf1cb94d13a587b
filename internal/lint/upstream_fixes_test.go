package lint

import (
	"strings"
	"testing"
)

// The cases below are the findings the upstream corpus showed to be wrong
// or noise, each cut down to a minimal manifest written here, next to the
// case that must still be reported.

const appContainer = `      containers:
      - name: app
        image: example.com/app:1.0.0
        ports:
        - {name: http, containerPort: 8080}
        - {name: metrics, containerPort: 9090}
        readinessProbe: {httpGet: {path: /readyz, port: http}}
        livenessProbe: {httpGet: {path: /livez, port: http}}
`

func service(ports string) string {
	return `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports:
` + ports
}

// A Service that only exposes metrics (kyverno's, knative's controllers')
// is for Prometheus, which retries at the next scrape: the pods behind it do
// not serve, so they need no drain, nor a second replica.
func TestMetricsOnlyServiceDoesNotMakeAServer(t *testing.T) {
	metrics := web("", appContainer, service("  - {name: http-metrics, port: 9090, targetPort: metrics}\n"))
	lintFires(t, metrics, "drain-missing", false)
	byTarget := web("", appContainer, service("  - {port: 9090, targetPort: metrics}\n"))
	lintFires(t, byTarget, "drain-missing", false)
	// keda's metricsservice is gRPC for its metrics apiserver: real traffic.
	grpc := web("", appContainer, service("  - {name: metricsservice, port: 8080, targetPort: http}\n"))
	lintFires(t, grpc, "drain-missing", true)
	both := web("", appContainer, service("  - {name: http, port: 80, targetPort: http}\n  - {name: metrics, port: 9090, targetPort: metrics}\n"))
	lintFires(t, both, "drain-missing", true)
}

// With no Service in the input, a declared port makes a workload count as
// serving, and the finding says it rests on that assumption; a metrics
// port alone does not.
func TestServingAssumedIsSaid(t *testing.T) {
	f, _ := lintFires(t, web("", appContainer), "drain-missing", true)
	if !strings.Contains(f.Message, "assumed to take traffic: no Service in the input selects Deployment web") {
		t.Errorf("message does not say serving was assumed: %s", f.Message)
	}
	f, _ = lintFires(t, web("", appContainer, service("  - {name: http, port: 80, targetPort: http}\n")), "drain-missing", true)
	if strings.Contains(f.Message, "assumed") {
		t.Errorf("a Service decides serving, yet the message says assumed: %s", f.Message)
	}
	metricsOnly := strings.Replace(appContainer, "        - {name: http, containerPort: 8080}\n", "", 1)
	metricsOnly = strings.ReplaceAll(metricsOnly, "port: http}", "port: metrics}")
	lintFires(t, web("", metricsOnly), "drain-missing", false)
}

// Contour's envoy drains in a preStop httpGet to its shutdown manager,
// which answers once connections are gone: the kubelet waits for it.
func TestPreStopHTTPGetIsTheAppsDrain(t *testing.T) {
	hook := strings.Replace(appContainer, "        readinessProbe:", "        lifecycle: {preStop: {httpGet: {path: /shutdown, port: 8090}}}\n        readinessProbe:", 1)
	lintFires(t, web("", hook, service("  - {name: http, port: 80, targetPort: http}\n")), "drain-missing", false)
	kill := strings.Replace(appContainer, "        readinessProbe:", "        lifecycle: {preStop: {exec: {command: [kill, '1']}}}\n        readinessProbe:", 1)
	lintFires(t, web("", kill, service("  - {name: http, port: 80, targetPort: http}\n")), "drain-missing", true)
}

// ko resolves ko:// references to digests before anything is applied, as
// Knative's config does.
func TestKoReferenceIsNotAnImage(t *testing.T) {
	ko := strings.Replace(appContainer, "example.com/app:1.0.0", "ko://knative.dev/serving/cmd/activator", 1)
	lintFires(t, web("", ko), "image-tag", false)
	untagged := strings.Replace(appContainer, "example.com/app:1.0.0", "example.com/app", 1)
	lintFires(t, web("", untagged), "image-tag", true)
}

// A Service that selects the labels of a custom resource (a Prometheus named
// self, labelled prometheus: self) fronts the pods its operator makes.
func TestServiceOfAnOperatorsPods(t *testing.T) {
	svc := `apiVersion: v1
kind: Service
metadata: {name: prometheus-self}
spec:
  selector: {prometheus: self}
  ports: [{name: web, port: 9090}]
`
	cr := `apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata: {name: self, labels: {prometheus: self}}
spec: {replicas: 2}
`
	lintFires(t, web("", appContainer, svc, cr), "service-selects-nothing", false)
	other := strings.Replace(cr, "labels: {prometheus: self}", "labels: {prometheus: other}", 1)
	lintFires(t, web("", appContainer, svc, other), "service-selects-nothing", true)
}

// A liveness delay under 30 s (kubebuilder's 15, KEDA's 25) is no case for
// a startup probe; from 30 s it is.
func TestStartupProbeThreshold(t *testing.T) {
	delayed := func(s string) string {
		return web("", strings.Replace(appContainer, "livenessProbe: {httpGet: {path: /livez, port: http}}", "livenessProbe: {httpGet: {path: /livez, port: http}, initialDelaySeconds: "+s+"}", 1))
	}
	lintFires(t, delayed("25"), "startup-probe-missing", false)
	lintFires(t, delayed("30"), "startup-probe-missing", true)
}
