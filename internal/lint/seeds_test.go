package lint

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The seeds are real-world manifests from articles about rolling updates
// that dropped requests (testdata/seeds, extracted from shared/seeds). The
// linter must name the mistakes the articles made, and leave alone what the
// authors got right.

func lintSeed(t *testing.T, name string) Report {
	t.Helper()
	return lintFileGolden(t, filepath.Join("testdata", "seeds", name+".yaml"))
}

// lintFileGolden lints one file and compares the text report with the
// file's .want.txt beside it (-update rewrites it).
func lintFileGolden(t *testing.T, path string) Report {
	t.Helper()
	in, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Lint(in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := WriteText(&out, r); err != nil {
		t.Fatal(err)
	}
	golden := strings.TrimSuffix(path, ".yaml") + ".want.txt"
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	} else if want, err := os.ReadFile(golden); err != nil || !bytes.Equal(want, out.Bytes()) {
		t.Errorf("output differs from %s (-update rewrites it): %v\n%s", golden, err, out.String())
	}
	return r
}

// flagged reports whether rule flagged the named object at a field starting
// with fieldPrefix.
func flagged(r Report, rule, kind, name, fieldPrefix string) bool {
	for _, f := range r.Findings {
		if f.Rule == rule && f.Kind == kind && f.Name == name && strings.HasPrefix(f.Field, fieldPrefix) {
			return true
		}
	}
	return false
}

func TestSeed003First(t *testing.T) {
	r := lintSeed(t, "003-first")
	const dep = "spring-boot-kubernetes-deployment"
	const ctr = "spec.template.spec.containers[name=spring-boot-kubernetes]"
	for _, rule := range []string{"readiness-probe-missing", "drain-missing"} {
		if !flagged(r, rule, "Deployment", dep, ctr) {
			t.Errorf("the first Deployment is not flagged by %s", rule)
		}
	}
	if r.Errors == 0 {
		t.Error("no errors: lint would pass the manifest that dropped requests")
	}
}

func TestSeed003Second(t *testing.T) {
	r := lintSeed(t, "003-second")
	const dep = "spring-boot-kubernetes-deployment"
	const ctr = "spec.template.spec.containers[name=spring-boot-kubernetes]"
	if !flagged(r, "prestop-exec-sleep", "Deployment", dep, ctr+".lifecycle.preStop.exec") {
		t.Error("the exec `sleep 90s` preStop is not flagged")
	}
	for _, f := range r.Findings {
		if f.Rule == "prestop-exec-sleep" && !strings.Contains(f.Fix, "preStop.sleep") {
			t.Errorf("the fix does not point at the native preStop.sleep action: %s", f.Fix)
		}
	}
	// What the article fixed must no longer be reported: it added a readiness
	// probe and a 90 s drain that fits its 300 s grace period.
	for _, rule := range []string{"readiness-probe-missing", "drain-missing", "grace-budget"} {
		if flagged(r, rule, "Deployment", dep, "") {
			t.Errorf("the fixed Deployment is still flagged by %s", rule)
		}
	}
}

func TestSeed004(t *testing.T) {
	r := lintSeed(t, "004")
	const ctr = "spec.template.spec.containers[name=simple-server]"
	for _, c := range []struct{ rule, field string }{
		// Its probes: liveness and readiness both GET /healthz, and a 60 s
		// liveness delay stands in for a startup probe.
		{"probes-identical", ctr + ".livenessProbe"},
		{"startup-probe-missing", ctr + ".startupProbe"},
		// Its preStop kills the server, in a shell loop: no drain at all.
		{"drain-missing", ctr + ".lifecycle.preStop"},
		{"prestop-exec-sleep", ctr + ".lifecycle.preStop.exec"},
		// Required anti-affinity with the default 25% surge.
		{"anti-affinity-deadlock", "spec.template.spec.affinity"},
	} {
		if !flagged(r, c.rule, "Deployment", "simple-server", c.field) {
			t.Errorf("simple-server is not flagged by %s at %s", c.rule, c.field)
		}
	}
	// Its readiness probe exists and its Service port matches the container.
	for _, rule := range []string{"readiness-probe-missing", "service-target-port"} {
		for _, f := range r.Findings {
			if f.Rule == rule {
				t.Errorf("flagged by %s, which the seed gets right: %s", rule, f.Message)
			}
		}
	}
}
