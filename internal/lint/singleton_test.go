package lint

import (
	"strings"
	"testing"
)

// one renders a one-replica Deployment named store with the given strategy
// and pod spec, behind a Service, so every case shows only its evidence.
func one(strategy, podSpec string, extra ...string) string {
	doc := strings.Replace(web(strategy, podSpec, append([]string{frontedBy("web")}, extra...)...), "replicas: 3", "replicas: 1", 1)
	return doc
}

// container is a pod spec with one container of the given image, ports and
// args, and the volumes given, indented for the template.
func container(image, ports, args, volumes string) string {
	s := "      containers:\n      - name: app\n        image: " + image + "\n        ports: [{name: http, containerPort: 8080}" + ports + "]\n"
	if args != "" {
		s += "        args: [" + args + "]\n"
	}
	if volumes != "" {
		s += "        volumeMounts: [{name: data, mountPath: /data}]\n      volumes: [" + volumes + "]\n"
	}
	return s
}

// TestSingleInstance: a one-replica store, stateful pod or controller that
// must run once is told apart from a stateless service by what its
// manifest shows, and gets advice that fits it (issue #26): no bare "run at
// least 2 replicas", which would split its data or start a second leader,
// and the rollout hazard that was unreported: a surge starts a second
// instance beside the first, and data kept in the pod goes with it.
func TestSingleInstance(t *testing.T) {
	const surge = "strategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}"
	tests := []struct {
		name      string
		yaml      string
		surge     bool   // singleton-surge fires
		ephemeral bool   // singleton-ephemeral fires
		fix       string // in replicas-min's fix
	}{
		{name: "a PersistentVolumeClaim", yaml: one(surge, container("app:1.0", "", "", "{name: data, persistentVolumeClaim: {claimName: data}}")),
			surge: true, fix: "move the state out"},
		{name: "an emptyDir holding data", yaml: one(surge, container("app:1.0", "", "", "{name: data, emptyDir: {}}")),
			surge: true, ephemeral: true, fix: "move the state out"},
		{name: "a data port", yaml: one(surge, container("registry.example.com/pg:16.3", ", {name: pg, containerPort: 5432}", "", "")),
			surge: true, ephemeral: true, fix: "keep one replica"},
		{name: "an image family", yaml: one(surge, container("docker.io/bitnami/mongodb:7.0.12", "", "", "")),
			surge: true, ephemeral: true, fix: "keep one replica"},
		{name: "leader election off", yaml: one(surge, container("controller:1.4", "", "--leader-elect=false", "")),
			surge: true, fix: "turn leader election on"},
		{name: "Recreate", yaml: one("strategy: {type: Recreate}", container("app:1.0", "", "", "")),
			fix: "must not run beside its replacement"},
		{name: "the advice followed: Recreate and a claim", yaml: one("strategy: {type: Recreate}", container("redis:7.2.5", "", "", "{name: data, persistentVolumeClaim: {claimName: data}}")),
			fix: "keep one replica"},
		{name: "the advice followed: no surge and a claim", yaml: one("strategy: {rollingUpdate: {maxSurge: 0, maxUnavailable: 1}}", container("redis:7.2.5", "", "", "{name: data, persistentVolumeClaim: {claimName: data}}")),
			fix: "keep one replica"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lintFires(t, tt.yaml, "singleton-surge", tt.surge)
			lintFires(t, tt.yaml, "singleton-ephemeral", tt.ephemeral)
			f, _ := lintFires(t, tt.yaml, "replicas-min", true)
			if strings.HasPrefix(f.Fix, "run at least 2 replicas") || !strings.Contains(f.Fix, tt.fix) {
				t.Errorf("replicas-min's fix %q: want no bare advice to add replicas, and %q", f.Fix, tt.fix)
			}
			// Recreate and no surge are the advice: the rollout rules do not
			// then call them an outage to fix.
			for _, rule := range []string{"rollout-strategy", "rollout-max-unavailable"} {
				lintFires(t, tt.yaml, rule, false)
			}
		})
	}

	// The surge finding says what the surge does, and its fix is Recreate
	// or a StatefulSet, with a claim where the data is in the pod.
	f, _ := lintFires(t, tests[3].yaml, "singleton-surge", true)
	if !strings.Contains(f.Message, "behind the same Service") || !strings.Contains(f.Message, "starts empty") ||
		!strings.Contains(f.Fix, "Recreate") || !strings.Contains(f.Fix, "StatefulSet") || !strings.Contains(f.Fix, "PersistentVolumeClaim") {
		t.Errorf("singleton-surge says %q, fix %q", f.Message, f.Fix)
	}

	// A one-replica StatefulSet of PostgreSQL with a claim per pod is what
	// the advice leads to: no surge, no data in the pod.
	const statefulSet = `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 1
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: postgres:16.3, ports: [{name: http, containerPort: 5432}], volumeMounts: [{name: data, mountPath: /var/lib/postgresql/data}]}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
`
	yaml := stream([]string{statefulSet, frontedBy("db")})
	lintFires(t, yaml, "singleton-ephemeral", false)
	if f, _ := lintFires(t, yaml, "replicas-min", true); !strings.Contains(f.Fix, "keep one replica") {
		t.Errorf("replicas-min's fix on a one-replica database: %q", f.Fix)
	}
}

// TestStatelessOneReplicaStillToldToScale: a one-replica Deployment with
// none of that evidence is a stateless service short of replicas, and is
// told so; and a controller with leader election on is told that more
// replicas stand by, not that they would fight.
func TestStatelessOneReplicaStillToldToScale(t *testing.T) {
	yaml := one("", container("app:1.0", "", "", ""))
	for _, rule := range []string{"singleton-surge", "singleton-ephemeral"} {
		lintFires(t, yaml, rule, false)
	}
	if f, _ := lintFires(t, yaml, "replicas-min", true); !strings.HasPrefix(f.Fix, "run at least 2 replicas") {
		t.Errorf("replicas-min's fix on a stateless Deployment: %q", f.Fix)
	}

	elected := one("", container("controller:1.4", "", "--leader-elect", ""))
	lintFires(t, elected, "singleton-surge", false)
	if f, _ := lintFires(t, elected, "replicas-min", true); !strings.HasPrefix(f.Fix, "run at least 2 replicas") || !strings.Contains(f.Fix, "stand by") {
		t.Errorf("replicas-min's fix on a leader-elected controller: %q", f.Fix)
	}
}
