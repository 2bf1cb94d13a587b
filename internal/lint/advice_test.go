package lint

import (
	"strings"
	"testing"
)

// web renders a minimal Deployment named web whose pod spec, strategy and
// extra objects each case fills in, so that every case shows only what it
// is about.
func web(strategy, podSpec string, extra ...string) string {
	doc := `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  ` + strategy + `
  template:
    metadata: {labels: {app: web}}
    spec:
` + podSpec
	for _, x := range extra {
		doc += "---\n" + x
	}
	return doc
}

// mustDecode fails a case whose manifest is not valid, which would leave
// every rule quiet and a "does not fire" case passing for nothing.
func mustDecode(t *testing.T, r Report) {
	t.Helper()
	if _, bad := findingOf(r, RuleSchema); bad || len(r.Checked) == 0 {
		t.Fatalf("the case's manifest does not decode:\n%s", text(t, r))
	}
}

// lintFires lints a case's manifest, which must decode, and fails the test
// unless rule fires as want says; it returns the rule's first finding.
func lintFires(t *testing.T, yaml, rule string, want bool) (Finding, bool) {
	t.Helper()
	r := lintString(t, yaml, Options{})
	mustDecode(t, r)
	f, fired := findingOf(r, rule)
	if fired != want {
		t.Fatalf("%s fired: %v, want %v\n%s", rule, fired, want, text(t, r))
	}
	return f, fired
}

// findingOf returns the first finding of rule, if any.
func findingOf(r Report, rule string) (Finding, bool) {
	for _, f := range r.Findings {
		if f.Rule == rule {
			return f, true
		}
	}
	return Finding{}, false
}

// TestAdviceFitsTheContext covers the wrong advice the real-world trial
// found: each case is a manifest where the old rule fired, or advised
// something that would break it, and what the rule must now do.
func TestAdviceFitsTheContext(t *testing.T) {
	const rwoClaim = `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
`
	const withClaim = `      volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
      containers: [{name: web, image: web:1.0, volumeMounts: [{name: data, mountPath: /data}]}]
`
	const withHostPort = `      containers: [{name: web, image: web:1.0, ports: [{containerPort: 8080, hostPort: 8080}]}]
`
	probes := func(liveness, readiness string) string {
		return `      containers:
      - name: web
        image: web:1.0
        ports: [{name: http, containerPort: 8080}]
        livenessProbe: ` + liveness + `
        readinessProbe: ` + readiness + "\n"
	}
	tests := []struct {
		name    string
		yaml    string
		rule    string
		fires   bool
		fix     string // substring of the fix when it fires
		notInIt string // and what it must not advise
	}{
		{name: "Recreate with a ReadWriteOnce claim is not told to surge",
			yaml: web("strategy: {type: Recreate}", withClaim, rwoClaim), rule: "rollout-strategy", fires: true,
			fix: "StatefulSet with volumeClaimTemplates", notInIt: "use type: RollingUpdate"},
		{name: "Recreate with a hostPort is told to roll one pod at a time",
			yaml: web("strategy: {type: Recreate}", withHostPort), rule: "rollout-strategy", fires: true,
			fix: "maxSurge: 0 and maxUnavailable: 1", notInIt: "maxSurge: 1"},
		{name: "Recreate elsewhere is told to surge",
			yaml: web("strategy: {type: Recreate}", withHostPort[:strings.Index(withHostPort, ", ports")]+"}]\n"), rule: "rollout-strategy", fires: true,
			fix: "maxSurge: 1 and maxUnavailable: 0"},
		{name: "a hostPort Deployment rolling one at a time keeps its maxUnavailable",
			yaml: web("strategy: {rollingUpdate: {maxSurge: 0, maxUnavailable: 1}}", withHostPort), rule: "rollout-capacity", fires: false},
		{name: "all-down with a hostPort is told not to surge",
			yaml: web("strategy: {rollingUpdate: {maxSurge: 0, maxUnavailable: 3}}", withHostPort), rule: "rollout-max-unavailable", fires: true,
			fix: "maxUnavailable: 1 and maxSurge: 0", notInIt: "maxSurge: 1"},
		{name: "equal probe timings are not liveness-faster",
			yaml: web("", probes("{httpGet: {path: /livez, port: http}, periodSeconds: 5, failureThreshold: 2}", "{httpGet: {path: /readyz, port: http}, periodSeconds: 10, failureThreshold: 1}")),
			rule: "liveness-faster-than-readiness", fires: false},
		{name: "one check for both probes is probes-identical's alone",
			yaml: web("", probes("{httpGet: {path: /healthz, port: http}, periodSeconds: 1}", "{httpGet: {path: /healthz, port: http}}")),
			rule: "liveness-faster-than-readiness", fires: false},
		{name: "probes-identical says when liveness already gives up later",
			yaml: web("", probes("{httpGet: {path: /healthz, port: http}, failureThreshold: 6}", "{httpGet: {path: /healthz, port: http}}")),
			rule: "probes-identical", fires: true, fix: "/livez"},
		{name: "service-account-token stays quiet when a role is bound to the account",
			yaml: web("", "      serviceAccountName: operator\n      automountServiceAccountToken: true\n      containers: [{name: web, image: web:1.0}]\n", `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: operator}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: operator}
subjects: [{kind: ServiceAccount, name: operator}]
`), rule: "service-account-token", fires: false},
		{name: "service-account-token fires on a token nothing is bound to",
			yaml: web("", "      serviceAccountName: operator\n      automountServiceAccountToken: true\n      containers: [{name: web, image: web:1.0}]\n"),
			rule: "service-account-token", fires: true, fix: "automountServiceAccountToken: false"},
		{name: "one Deployment per version behind an app-wide Service",
			yaml: strings.ReplaceAll(strings.ReplaceAll(web("", "      containers: [{name: web, image: web:1.0}]\n"), "{app: web}", "{app: web, version: v1}"), "name: web}", "name: web-v1}") +
				"---\n" + strings.ReplaceAll(strings.ReplaceAll(web("", "      containers: [{name: web, image: web:2.0}]\n"), "{app: web}", "{app: web, version: v2}"), "name: web}", "name: web-next}") +
				"---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {selector: {app: web}, ports: [{port: 80}]}\n",
			rule: "selector-version", fires: false},
		{name: "a version in a lone Deployment's selector",
			yaml: strings.ReplaceAll(web("", "      containers: [{name: web, image: web:1.0}]\n"), "{app: web}", "{app: web, version: v1}"),
			rule: "selector-version", fires: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, fired := lintFires(t, tt.yaml, tt.rule, tt.fires)
			if fired && !strings.Contains(f.Fix, tt.fix) {
				t.Errorf("fix %q lacks %q", f.Fix, tt.fix)
			}
			if fired && tt.notInIt != "" && strings.Contains(f.Fix, tt.notInIt) {
				t.Errorf("fix %q advises %q, which breaks this manifest", f.Fix, tt.notInIt)
			}
		})
	}
}

// TestConfigMapAlternativesToAHash: a checksum annotation or Stakater
// Reloader rolls the pods on a change, and a reloader sidecar reloads a
// mounted ConfigMap, so none of them needs a hashed name; env read by a pod
// with only a sidecar still does.
func TestConfigMapAlternativesToAHash(t *testing.T) {
	const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {A: b}\n"
	const mounted = "      volumes: [{name: cfg, configMap: {name: cfg}}]\n      containers:\n      - {name: web, image: web:1.0}\n"
	const env = "      containers:\n      - {name: web, image: web:1.0, envFrom: [{configMapRef: {name: cfg}}]}\n"
	const sidecar = "      - {name: reload, image: ghcr.io/jimmidyson/configmap-reload:v0.14.0}\n"
	for _, tt := range []struct {
		name  string
		yaml  string
		fires bool
	}{
		{"plain", web("", mounted, cm), true},
		{"checksum annotation", strings.Replace(web("", env, cm), "metadata: {labels: {app: web}}", "metadata: {labels: {app: web}, annotations: {checksum/config: 3f2a}}", 1), false},
		{"reloader annotation", strings.Replace(web("", env, cm), "metadata: {name: web}", "metadata: {name: web, annotations: {reloader.stakater.com/auto: \"true\"}}", 1), false},
		{"sidecar reloads a mounted ConfigMap", web("", mounted+sidecar, cm), false},
		{"a sidecar cannot reload env", web("", env+sidecar, cm), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := loadString(t, tt.yaml)
			in.Kustomizations = []*Kustomization{{Path: "kustomization.yaml"}} // the rule speaks to kustomize output
			r, err := Lint(in, Options{})
			if err != nil {
				t.Fatal(err)
			}
			mustDecode(t, r)
			if _, fired := findingOf(r, "configmap-unhashed"); fired != tt.fires {
				t.Errorf("configmap-unhashed fired: %v, want %v\n%s", fired, tt.fires, text(t, r))
			}
		})
	}
}

// TestLabelsRecommendedIsOptionalAndFolded: the convention runs only when
// enabled, and then gives one finding per workload, not one per label set.
func TestLabelsRecommendedIsOptionalAndFolded(t *testing.T) {
	yaml := web("", "      containers: [{name: web, image: web:1.0}]\n")
	if _, fired := findingOf(lintString(t, yaml, Options{}), "labels-recommended"); fired {
		t.Error("labels-recommended runs without --enable")
	}
	n := 0
	for _, f := range lintString(t, yaml, Options{Enable: []string{"labels-recommended"}}).Findings {
		if f.Rule == "labels-recommended" {
			n++
			if !strings.Contains(f.Message, "the Deployment lack") || !strings.Contains(f.Message, "its pods lack") {
				t.Errorf("the finding does not name both label sets: %s", f.Message)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d labels-recommended findings, want 1", n)
	}
	if _, err := Lint(loadString(t, yaml), Options{Enable: []string{"no-such-rule"}}); err == nil {
		t.Error("an unknown rule to enable is accepted")
	}
}

// TestKubeVersionGatesAdvice: on an older cluster, rules about features it
// lacks stay quiet, advice leaves those features out, and a matchLabelKeys
// the API server would drop does not count as a fix.
func TestKubeVersionGatesAdvice(t *testing.T) {
	execSleep := web("", `      containers:
      - name: web
        image: web:1.0
        ports: [{containerPort: 8080}]
        lifecycle: {preStop: {exec: {command: [sleep, "10"]}}}
`)
	noDrain := web("", "      containers: [{name: web, image: web:1.0, ports: [{containerPort: 8080}]}]\n")
	antiAffinity := web("", `      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - topologyKey: kubernetes.io/hostname
            labelSelector: {matchLabels: {app: web}}
            matchLabelKeys: [pod-template-hash]
      containers: [{name: web, image: web:1.0}]
`)
	pdb := web("", "      containers: [{name: web, image: web:1.0}]\n", "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web}\nspec: {maxUnavailable: 1, selector: {matchLabels: {app: web}}}\n")
	for _, tt := range []struct {
		name, yaml, version, rule string
		fires                     bool
		fix                       string
	}{
		{"exec sleep on 1.34", execSleep, "1.34", "prestop-exec-sleep", true, "lifecycle.preStop.sleep.seconds"},
		{"exec sleep on 1.28, before the sleep action", execSleep, "v1.28.3", "prestop-exec-sleep", false, ""},
		{"no drain on 1.28 is not told to use the sleep action", noDrain, "1.28", "drain-missing", true, "preStop exec of sleep 10"},
		{"no drain, any supported release", noDrain, "", "drain-missing", true, "lifecycle.preStop.sleep.seconds"},
		{"matchLabelKeys fixes the deadlock on 1.33", antiAffinity, "1.33", "anti-affinity-deadlock", false, ""},
		{"matchLabelKeys is dropped on 1.29", antiAffinity, "1.29", "anti-affinity-deadlock", true, "needs Kubernetes 1.31"},
		{"unhealthyPodEvictionPolicy on 1.26", pdb, "1.26", "pdb-unhealthy-eviction", false, ""},
		{"unhealthyPodEvictionPolicy on 1.31", pdb, "1.31", "pdb-unhealthy-eviction", true, "AlwaysAllow"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := lintString(t, tt.yaml, Options{KubeVersion: tt.version})
			mustDecode(t, r)
			f, fired := findingOf(r, tt.rule)
			if fired != tt.fires || (fired && !strings.Contains(f.Fix, tt.fix)) {
				t.Errorf("%s fired %v with fix %q; want %v with %q", tt.rule, fired, f.Fix, tt.fires, tt.fix)
			}
		})
	}
	if _, err := Lint(loadString(t, noDrain), Options{KubeVersion: "2.0"}); err == nil {
		t.Error("kube version 2.0 is accepted")
	}
}
