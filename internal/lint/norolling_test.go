package lint

import (
	"strings"
	"testing"
)

// frontedBy is a Service named app in front of the pods labelled app: NAME.
func frontedBy(name string) string {
	return `apiVersion: v1
kind: Service
metadata: {name: ` + name + `}
spec:
  selector: {app: ` + name + `}
  ports: [{name: http, port: 80, targetPort: http}]
`
}

// podTemplate is a minimal serving pod template labelled app: NAME, indented
// for spec.template.
func podTemplate(name string) string {
	return `  template:
    metadata: {labels: {app: ` + name + `}}
    spec:
      containers:
      - name: ` + name + `
        image: ` + name + `:1.0
        ports: [{name: http, containerPort: 8080}]
`
}

// TestWorkloadsThatCannotRoll: a ReplicationController, a bare ReplicaSet,
// and a StatefulSet or DaemonSet updated OnDelete change no running pod
// when their template changes; each is checked and says so (issue #26).
func TestWorkloadsThatCannotRoll(t *testing.T) {
	tests := []struct {
		name, yaml, field, says string
	}{
		{"a ReplicationController behind a Service", `apiVersion: v1
kind: ReplicationController
metadata: {name: legacy}
spec:
  replicas: 2
  selector: {app: legacy}
` + podTemplate("legacy") + "---\n" + frontedBy("legacy"), "spec.template", "a ReplicationController never rolls"},
		{"a bare ReplicaSet", `apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: legacy}
spec:
  replicas: 2
  selector: {matchLabels: {app: legacy}}
` + podTemplate("legacy") + "---\n" + frontedBy("legacy"), "spec.template", "a ReplicaSet never rolls"},
		{"a StatefulSet updated OnDelete", `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: ledger}
spec:
  replicas: 3
  serviceName: ledger
  updateStrategy: {type: OnDelete}
  selector: {matchLabels: {app: ledger}}
` + podTemplate("ledger") + "---\n" + frontedBy("ledger"), "spec.updateStrategy.type", "only when someone deletes that pod"},
		{"a DaemonSet updated OnDelete", `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  updateStrategy: {type: OnDelete}
  selector: {matchLabels: {app: agent}}
` + podTemplate("agent"), "spec.updateStrategy.type", "only when someone deletes that pod"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := lintFires(t, tt.yaml, "no-rolling-update", true)
			if f.Field != tt.field || !strings.Contains(f.Message, tt.says) {
				t.Errorf("finding at %s says %q; want it at %s, saying %q", f.Field, f.Message, tt.field, tt.says)
			}
		})
	}

	// The ReplicationController is checked like any workload, no longer
	// skipped: its pod rules run.
	r := lintString(t, tests[0].yaml, Options{})
	if len(r.Skipped) > 0 || len(r.Checked) != 1 || r.Checked[0].Kind != "ReplicationController" {
		t.Errorf("checked %+v, skipped %+v; want the ReplicationController checked", r.Checked, r.Skipped)
	}
	if _, ok := findingOf(r, "readiness-probe-missing"); !ok {
		t.Errorf("the pod rules did not run on the ReplicationController:\n%s", text(t, r))
	}

	// A StatefulSet or DaemonSet that rolls is not reported.
	for _, yaml := range []string{
		strings.Replace(tests[2].yaml, "updateStrategy: {type: OnDelete}", "updateStrategy: {type: RollingUpdate}", 1),
		strings.Replace(tests[3].yaml, "  updateStrategy: {type: OnDelete}\n", "", 1),
	} {
		lintFires(t, yaml, "no-rolling-update", false)
	}
}

// TestReplicaSetIsNotSaidToSurge: a one-replica ReplicaSet never rolls, so
// replicas-min does not say that a rollout still surges (issue #26).
func TestReplicaSetIsNotSaidToSurge(t *testing.T) {
	f, _ := lintFires(t, `apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: legacy}
spec:
  replicas: 1
  selector: {matchLabels: {app: legacy}}
`+podTemplate("legacy")+"---\n"+frontedBy("legacy"), "replicas-min", true)
	if strings.Contains(f.Message, "surges") || !strings.Contains(f.Message, "deleting it") {
		t.Errorf("replicas-min on a ReplicaSet says %q; want no surge, and that an update means deleting the pod", f.Message)
	}
}
