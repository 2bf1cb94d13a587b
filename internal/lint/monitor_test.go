package lint

import (
	"testing"
)

// exporter is a Deployment whose one container port, named https-main as a
// kube-rbac-proxy sidecar's is, is behind a Service of its own, with room
// for other objects around it.
func exporter(port string, extra ...string) string {
	docs := []string{`apiVersion: apps/v1
kind: Deployment
metadata: {name: exporter, namespace: mon}
spec:
  replicas: 1
  selector: {matchLabels: {app: exporter}}
  template:
    metadata: {labels: {app: exporter}}
    spec:
      containers:
      - name: exporter
        image: exporter:2.1
      - name: kube-rbac-proxy
        image: kube-rbac-proxy:0.18
        ports: [{name: ` + port + `, containerPort: 8443}]
`}
	return stream(append(docs, extra...))
}

const exporterService = `apiVersion: v1
kind: Service
metadata: {name: exporter, namespace: mon, labels: {app: exporter}}
spec:
  selector: {app: exporter}
  ports: [{name: https-main, port: 8443, targetPort: https-main}]
`

const exporterServiceMonitor = `apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: exporter, namespace: mon}
spec:
  selector: {matchLabels: {app: exporter}}
  endpoints: [{port: https-main, scheme: https}]
`

// TestScrapedPortsDoNotServe: probe, drain and replica findings stay off a
// sidecar whose only Service port is scraped by a ServiceMonitor, or whose
// only port a PodMonitor scrapes, and still fire when the input shows
// clients (an APIService in front of the Service, a port no monitor
// scrapes), with no monitor, and on a pod's main container, which may serve
// its clients on the port it is scraped on (issue #26).
func TestScrapedPortsDoNotServe(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		fires bool
	}{
		{"a Service only a ServiceMonitor scrapes", exporter("https-main", exporterService, exporterServiceMonitor), false},
		{"a ServiceMonitor in another namespace that looks into this one", exporter("https-main", exporterService,
			`apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: exporter, namespace: monitoring}
spec:
  namespaceSelector: {matchNames: [mon]}
  selector: {matchLabels: {app: exporter}}
  endpoints: [{port: https-main}]
`), false},
		{"no monitor: https-main may serve clients", exporter("https-main", exporterService), true},
		{"a ServiceMonitor in another namespace that does not look here", exporter("https-main", exporterService,
			`apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: exporter, namespace: monitoring}
spec:
  selector: {matchLabels: {app: exporter}}
  endpoints: [{port: https-main}]
`), true},
		{"an APIService sends the API server's requests to the scraped Service", exporter("https-main", exporterService, exporterServiceMonitor,
			`apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.metrics.k8s.io}
spec:
  group: metrics.k8s.io
  version: v1beta1
  groupPriorityMinimum: 100
  versionPriority: 100
  service: {name: exporter, namespace: mon, port: 8443}
`), true},
		{"an HTTPRoute sends a gateway's requests to the scraped Service", exporter("https-main", exporterService, exporterServiceMonitor,
			`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: exporter, namespace: mon}
spec:
  rules: [{backendRefs: [{name: exporter, port: 8443}]}]
`), true},
		{"an HTTPRoute in another namespace sends requests to the scraped Service", exporter("https-main", exporterService, exporterServiceMonitor,
			`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: exporter, namespace: edge}
spec:
  rules: [{backendRefs: [{name: exporter, namespace: mon, port: 8443}]}]
`), true},
		{"an HTTPRoute to a Service of the same name in its own namespace", exporter("https-main", exporterService, exporterServiceMonitor,
			`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: exporter, namespace: edge}
spec:
  rules: [{backendRefs: [{name: exporter, port: 8443}]}]
`), false},
		{"a Service port the ServiceMonitor leaves out", exporter("https-main", `apiVersion: v1
kind: Service
metadata: {name: exporter, namespace: mon, labels: {app: exporter}}
spec:
  selector: {app: exporter}
  ports:
  - {name: https-main, port: 8443, targetPort: https-main}
  - {name: api, port: 443, targetPort: 8443}
`, exporterServiceMonitor), true},
		{"a port only a PodMonitor scrapes, no Service in the namespace", exporter("https", `apiVersion: monitoring.coreos.com/v1
kind: PodMonitor
metadata: {name: exporter, namespace: mon}
spec:
  selector: {matchLabels: {app: exporter}}
  podMetricsEndpoints: [{port: https}]
`), false},
		{"a port no PodMonitor scrapes, no Service in the namespace", exporter("https"), true},
		{"a webhook that serves and is scraped on its one container's port", `apiVersion: apps/v1
kind: Deployment
metadata: {name: webhook, namespace: mon}
spec:
  replicas: 1
  selector: {matchLabels: {app: exporter}}
  template:
    metadata: {labels: {app: exporter}}
    spec:
      containers: [{name: webhook, image: webhook:1.0, ports: [{name: https-main, containerPort: 8443}]}]
---
` + exporterService + "---\n" + exporterServiceMonitor, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, rule := range []string{"readiness-probe-missing", "drain-missing", "replicas-min"} {
				lintFires(t, tt.yaml, rule, tt.fires)
			}
		})
	}
}

// TestMemoryLimitOnBatch: a Job or CronJob that no Service selects serves
// no request, so an eviction under memory pressure drops none; one that a
// Service selects is held to the rule (issue #26).
func TestMemoryLimitOnBatch(t *testing.T) {
	const job = `apiVersion: batch/v1
kind: Job
metadata: {name: report}
spec:
  template:
    metadata: {labels: {app: report}}
    spec:
      restartPolicy: Never
      containers: [{name: report, image: report:1.0, ports: [{name: http, containerPort: 8080}]}]
`
	const cronJob = `apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: nightly, image: nightly:1.0}]
`
	lintFires(t, job, "memory-limit", false)
	lintFires(t, cronJob, "memory-limit", false)
	lintFires(t, stream([]string{job, frontedBy("report")}), "memory-limit", true)
	lintFires(t, web("", "      containers: [{name: web, image: web:1.0}]\n"), "memory-limit", true)
}
