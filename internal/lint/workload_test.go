package lint

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// everyKind has one object of each pod-owning kind, each with a mistake the
// pod rules must see, and a Service and a budget that front the StatefulSet.
const everyKind = `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 3
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      hostNetwork: true
      containers:
      - name: db
        image: db:1.2
        securityContext: {privileged: true}
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  selector: {app: db}
  ports: [{port: 5432}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: db}
spec:
  maxUnavailable: 1
  unhealthyPodEvictionPolicy: AlwaysAllow
  selector: {matchLabels: {app: db}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: agent:1.0}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: job, image: job:1.0}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: migrate:1.0}]
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: legacy}
spec:
  replicas: 2
  selector: {matchLabels: {app: legacy}}
  template:
    metadata: {labels: {app: legacy}}
    spec:
      containers: [{name: legacy, image: legacy:1.0}]
---
apiVersion: v1
kind: Service
metadata: {name: canary}
spec:
  selector: {app: canary}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: canary}
spec:
  replicas: 2
  selector: {matchLabels: {app: canary}}
  strategy: {canary: {steps: [{setWeight: 20}, {pause: {}}]}}
  template:
    metadata: {labels: {app: canary}}
    spec:
      containers: [{name: canary, image: canary:1.0}]
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: by-ref}
spec:
  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: elsewhere}
---
apiVersion: apps.kruise.io/v1alpha1
kind: CloneSet
metadata: {name: clones}
spec:
  selector: {matchLabels: {app: clones}}
  template:
    metadata: {labels: {app: clones}}
    spec:
      containers: [{name: clones, image: clones:1.0}]
`

func lintString(t *testing.T, yaml string, opts Options) Report {
	t.Helper()
	r, err := Lint(loadString(t, yaml), opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func text(t *testing.T, r Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteText(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestEveryPodOwningKindIsChecked: the pod rules reach every kind, the
// Service and budget in front of a StatefulSet find its pods, and the
// summary names what was checked and what was not.
func TestEveryPodOwningKindIsChecked(t *testing.T) {
	r := lintString(t, everyKind, Options{})
	out := text(t, r)
	for _, c := range []struct{ rule, kind, name, field string }{
		{"pss-restricted", "StatefulSet", "db", "spec.template.spec"},
		{"pss-restricted", "DaemonSet", "agent", "spec.template.spec.containers[name=agent].securityContext"},
		{"pss-restricted", "CronJob", "nightly", "spec.jobTemplate.spec.template.spec.containers[name=job].securityContext"},
		// The pod rules reach the Job (memory-limit, which it drew until
		// issue #26, now passes by Jobs that no Service selects).
		{"pss-restricted", "Job", "migrate", "spec.template.spec.containers[name=migrate].securityContext"},
		{"memory-limit", "ReplicaSet", "legacy", "spec.template.spec.containers[name=legacy]"},
		{"memory-limit", "Rollout", "canary", "spec.template.spec.containers[name=canary]"},
		{"pdb-missing", "Rollout", "canary", "spec.selector"},
		{"readiness-probe-missing", "Rollout", "canary", "spec.template.spec.containers[name=canary].readinessProbe"},
	} {
		if !flagged(r, c.rule, c.kind, c.name, c.field) {
			t.Errorf("%s %s is not flagged by %s at %s", c.kind, c.name, c.rule, c.field)
		}
	}
	if f, _ := findingOf(r, "pss-restricted"); f.Name != "db" || !strings.Contains(f.Message, "hostNetwork") || !strings.Contains(f.Message, "privileged is true") {
		t.Errorf("the privileged hostNetwork StatefulSet's finding does not name both: %+v", f)
	}
	for _, rule := range []string{"service-selects-nothing", "pdb-selector"} {
		if slices.Contains(ruleSet(r), rule) {
			t.Errorf("flagged by %s, though the StatefulSet's pods are selected:\n%s", rule, out)
		}
	}
	// A DaemonSet has no replica count, a Job runs to completion: neither
	// needs a budget or two replicas; and a Job that no Service selects
	// loses no request when it is evicted.
	for _, name := range []string{"agent", "migrate", "nightly"} {
		for _, rule := range []string{"pdb-missing", "replicas-min"} {
			for _, f := range r.Findings {
				if f.Name == name && f.Rule == rule {
					t.Errorf("%s %s flagged by %s", f.Kind, name, rule)
				}
			}
		}
	}
	for _, f := range r.Findings {
		if (f.Name == "migrate" || f.Name == "nightly") && f.Rule == "memory-limit" {
			t.Errorf("%s %s flagged by memory-limit", f.Kind, f.Name)
		}
	}
	const summary = "checked: 1 StatefulSet, 1 DaemonSet, 1 ReplicaSet, 1 Job, 1 CronJob, 1 Rollout; " +
		"skipped: 1 CloneSet (apps.kruise.io/v1alpha1, unknown kind with a pod template), " +
		"1 Rollout (argoproj.io/v1alpha1, workloadRef: the pod template is another object's)\n"
	if !strings.Contains(out, summary) {
		t.Errorf("the summary is not %q:\n%s", summary, out)
	}
	if len(r.Checked) != 6 || len(r.Skipped) != 2 {
		t.Errorf("checked %+v, skipped %+v", r.Checked, r.Skipped)
	}
}

// TestRolloutTemplateIsStrict: an Argo Rollout's pod template is a core type
// and is held to the same strict decoding as a Deployment's, while Argo's
// own fields, which the linter has no types for, pass.
func TestRolloutTemplateIsStrict(t *testing.T) {
	in := loadString(t, `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: r}
spec:
  strategy: {blueGreen: {activeService: r}}
  selector: {matchLabels: {app: r}}
  template:
    metadata: {labels: {app: r}}
    spec:
      containers: [{name: r, image: r:1, readinessprobe: {}}]
`)
	if len(in.problems) != 1 || !strings.Contains(in.problems[0].Message, `spec.template.spec.containers[0].readinessprobe`) {
		t.Errorf("problems %+v, want the misspelt readinessprobe alone", in.problems)
	}
}

// TestServingIsDecidedByServices: a container serves when a Service leads to
// it, whether or not it declares the port; a container that declares a port
// no Service uses does not, and a Job serves only behind a Service.
func TestServingIsDecidedByServices(t *testing.T) {
	r := lintString(t, `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: web:1.0}
      - {name: log-shipper, image: shipper:1.0}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker}
spec:
  replicas: 1
  selector: {matchLabels: {app: worker}}
  template:
    metadata: {labels: {app: worker}}
    spec:
      containers:
      - name: worker
        image: worker:1.0
        ports: [{name: metrics, containerPort: 9100}]
---
apiVersion: v1
kind: Service
metadata: {name: hook}
spec:
  selector: {app: hook}
  ports: [{port: 80, targetPort: http}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: hook}
spec:
  template:
    metadata: {labels: {app: hook}}
    spec:
      restartPolicy: Never
      containers:
      - name: hook
        image: hook:1.0
        ports: [{name: http, containerPort: 8080}]
`, Options{})
	const web = "spec.template.spec.containers[name=web]"
	for _, rule := range []string{"readiness-probe-missing", "liveness-probe-missing", "drain-missing"} {
		if !flagged(r, rule, "Deployment", "web", web) {
			t.Errorf("web, behind a Service on numeric targetPort 8080 that it does not declare, is not flagged by %s", rule)
		}
		if !flagged(r, rule, "Job", "hook", "spec.template.spec.containers[name=hook]") {
			t.Errorf("the Job behind a Service is not flagged by %s", rule)
		}
		for _, f := range r.Findings {
			if f.Rule == rule && (f.Name == "worker" || strings.Contains(f.Field, "log-shipper")) {
				t.Errorf("%s flagged at %s, which no Service leads to", rule, f.Field)
			}
		}
	}
	for _, f := range r.Findings {
		if f.Rule == "service-target-port" || (f.Name == "worker" && (f.Rule == "replicas-min" || f.Rule == "pdb-missing")) {
			t.Errorf("false finding: %s on %s: %s", f.Rule, f.Object(), f.Message)
		}
	}
	if !flagged(r, "pdb-missing", "Deployment", "web", "spec.selector") {
		t.Error("web, serving with 2 replicas, is not flagged by pdb-missing")
	}
}

// TestDaemonSetSurge: a DaemonSet behind a Service is told to surge, unless
// its pods bind the host network or a host port, where a surge cannot start.
func TestDaemonSetSurge(t *testing.T) {
	ds := func(podSpec string) string {
		return `apiVersion: v1
kind: Service
metadata: {name: proxy}
spec: {selector: {app: proxy}, internalTrafficPolicy: Local, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: proxy}
spec:
  selector: {matchLabels: {app: proxy}}
  template:
    metadata: {labels: {app: proxy}}
    spec:
` + podSpec
	}
	for _, tt := range []struct {
		name, podSpec string
		capacity      bool
	}{
		{"pod network", "      containers: [{name: proxy, image: proxy:1.0}]\n", true},
		{"host network", "      hostNetwork: true\n      containers: [{name: proxy, image: proxy:1.0}]\n", false},
		{"host port", "      containers: [{name: proxy, image: proxy:1.0, ports: [{containerPort: 8080, hostPort: 8080}]}]\n", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := lintString(t, ds(tt.podSpec), Options{})
			mustDecode(t, r)
			if _, fired := findingOf(r, "rollout-capacity"); fired != tt.capacity {
				t.Errorf("rollout-capacity fired %v, want %v\n%s", fired, tt.capacity, text(t, r))
			}
			if _, fired := findingOf(r, "hostport-surge"); fired {
				t.Errorf("hostport-surge fired on a DaemonSet that does not surge")
			}
		})
	}
	// On the host network a declared port is a host port.
	r := lintString(t, web("strategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}",
		"      hostNetwork: true\n      containers: [{name: web, image: web:1.0, ports: [{containerPort: 8080}]}]\n"), Options{})
	if f, fired := findingOf(r, "hostport-surge"); !fired || !strings.Contains(f.Message, "hostPort 8080") {
		t.Errorf("a surging Deployment on the host network is not flagged by hostport-surge: %+v", f)
	}
}
