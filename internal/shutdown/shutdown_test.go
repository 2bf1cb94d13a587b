package shutdown_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zerodrop/zerodrop/internal/lint"
	"github.com/zerodrop/zerodrop/internal/render"
	"github.com/zerodrop/zerodrop/internal/shutdown"
)

// renderBase renders a service's kustomize base into a new directory.
func renderBase(t *testing.T) string {
	t.Helper()
	files, err := render.Render(render.Data{
		Name: "orders-api", Module: "example.com/orders-api", HTTPPort: 8080, GRPCPort: 9090, HealthPort: 8081,
		Image: "example.com/orders-api", IngressHost: "orders.example.com", Namespace: "orders", ScaffoldVersion: render.Version,
		GatewayName: render.DefaultGatewayName, GatewayNamespace: render.DefaultGatewayNamespace,
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range files {
		if !strings.HasPrefix(f.Path, "deploy/") {
			continue
		}
		path := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, f.Content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "deploy", "kustomize", "base")
}

// graceFindings lints the base and returns its grace-budget findings.
func graceFindings(t *testing.T, base string) []lint.Finding {
	t.Helper()
	in, err := lint.LoadKustomize(base)
	if err != nil {
		t.Fatal(err)
	}
	r, err := lint.Lint(in, lint.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out []lint.Finding
	for _, f := range r.Findings {
		if f.Rule == "grace-budget" {
			out = append(out, f)
		}
	}
	return out
}

// TestMarginIsDeclaredOnce moves the margin in this package alone: the
// grace period that render writes moves with it, and lint holds manifests to
// it, so a base rendered with the old margin no longer fits.
func TestMarginIsDeclaredOnce(t *testing.T) {
	defer func(m time.Duration) { shutdown.Margin = m }(shutdown.Margin)
	oldBase := renderBase(t)
	if f := graceFindings(t, oldBase); len(f) != 0 {
		t.Fatalf("the rendered base does not fit the default budget: %+v", f)
	}

	shutdown.Margin = 7 * time.Second
	want := render.Seconds(shutdown.Delay + shutdown.Timeout + shutdown.Cleanup + shutdown.Margin)
	if got := (render.Data{}).GracePeriod(); got != want {
		t.Errorf("render's grace period = %d with a 7 s margin, want %d", got, want)
	}
	newBase := renderBase(t)
	b, err := os.ReadFile(filepath.Join(newBase, "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"terminationGracePeriodSeconds: " + strconv.Itoa(want) + "\n",
		"+ 7: the app's whole shutdown sequence",
	} {
		if !strings.Contains(string(b), line) {
			t.Errorf("the rendered Deployment lacks %q:\n%s", line, b)
		}
	}
	if f := graceFindings(t, newBase); len(f) != 0 {
		t.Errorf("lint rejects what render wrote with the same margin: %+v", f)
	}
	if f := graceFindings(t, oldBase); len(f) != 1 {
		t.Errorf("lint with a 7 s margin found %d grace-budget errors in a base rendered with a 2 s one, want 1", len(f))
	}
}
