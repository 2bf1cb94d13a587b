package lint

import (
	"strings"
	"testing"
)

// TestSelectorFindingsSayWhatTheInputShows: a selector that matches no pod
// of the input is reported as such, never as matching nothing, and not at
// all where the input shows where the pods come from: an operator's custom
// resource, or a namespace whose pods the input does not hold (issue #26).
func TestSelectorFindingsSayWhatTheInputShows(t *testing.T) {
	const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
` + "  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: web, image: web:1.0}]\n"
	// A Prometheus custom resource whose operator labels its pods
	// prometheus: main; the input holds the resource, not the pods.
	const prometheus = `apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata: {name: main, namespace: shop, labels: {prometheus: main}}
spec: {replicas: 2}
`
	budget := func(ns, labels string) string {
		return "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: b, namespace: " + ns + "}\nspec:\n  maxUnavailable: 1\n  unhealthyPodEvictionPolicy: AlwaysAllow\n  selector: {matchLabels: " + labels + "}\n"
	}
	service := func(ns, labels string) string {
		return "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: " + ns + "}\nspec:\n  selector: " + labels + "\n  ports: [{port: 80}]\n"
	}
	tests := []struct {
		name, yaml, rule string
		fires            bool
	}{
		{"a budget of an operator's pods", stream([]string{deployment, prometheus, budget("shop", "{prometheus: main}")}), "pdb-selector", false},
		{"a Service of an operator's pods", stream([]string{deployment, prometheus, service("shop", "{prometheus: main}")}), "service-selects-nothing", false},
		{"a budget in a namespace whose pods the input lacks", stream([]string{deployment, budget("billing", "{app: invoices}")}), "pdb-selector", false},
		{"a Service in a namespace whose pods the input lacks", stream([]string{deployment, service("billing", "{app: invoices}")}), "service-selects-nothing", false},
		{"a budget of no pod in a namespace the input fills", stream([]string{deployment, budget("shop", "{app: wbe}")}), "pdb-selector", true},
		{"a Service of no pod in a namespace the input fills", stream([]string{deployment, service("shop", "{app: wbe}")}), "service-selects-nothing", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, fired := lintFires(t, tt.yaml, tt.rule, tt.fires)
			if !fired {
				return
			}
			if !strings.Contains(f.Message, "no pod of this input matches") || strings.Contains(f.Message, "matches the pods of no") {
				t.Errorf("message %q: want it to say no pod of this input matches, and no more", f.Message)
			}
		})
	}

	// A budget of an operator's pods does not cover the Deployment beside
	// it, which still needs one of its own.
	lintFires(t, stream([]string{deployment, prometheus, budget("shop", "{prometheus: main}"),
		"apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec: {selector: {app: web}, ports: [{port: 80}]}\n"}), "pdb-missing", true)
}

// TestHostPortSurgeRoom: a Deployment whose pods bind a hostPort stalls on
// a surge only when no old pod may go first; maxUnavailable makes room
// (issue #26).
func TestHostPortSurgeRoom(t *testing.T) {
	pod := "      containers: [{name: web, image: web:1.0, ports: [{containerPort: 8080, hostPort: 8080}]}]\n"
	for _, tt := range []struct {
		strategy string
		fires    bool
	}{
		{"strategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}", true},
		{"strategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 1}}", false},
		{"strategy: {rollingUpdate: {maxSurge: 25%, maxUnavailable: 25%}}", false}, // 4 replicas: 1 may go
		{"", true}, // the defaults with 3 replicas: surge 1, unavailable 0
	} {
		t.Run(tt.strategy, func(t *testing.T) {
			yaml := web(tt.strategy, pod)
			if strings.Contains(tt.strategy, "25%") {
				yaml = strings.Replace(yaml, "replicas: 3", "replicas: 4", 1)
			}
			lintFires(t, yaml, "hostport-surge", tt.fires)
		})
	}
}
