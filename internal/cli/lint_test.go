package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/zerodrop/zerodrop/internal/lint"
	"github.com/zerodrop/zerodrop/internal/treetest"
)

// overlays are the kustomize directories every service ships, relative to
// its deploy/kustomize.
func overlays() []string { return []string{"base", "overlays/dev", "overlays/prod"} }

// checkServiceManifests renders every overlay of the service in svcDir with
// kubectl and with the kustomize library, requires identical output and
// objects that all decode strictly into k8s.io/api types, and requires
// `scaffold lint` to find no error.
func checkServiceManifests(t *testing.T, svcDir string) {
	kubectl, kerr := exec.LookPath("kubectl")
	for _, overlay := range overlays() {
		t.Run(overlay, func(t *testing.T) {
			dir := filepath.Join(svcDir, "deploy", "kustomize", filepath.FromSlash(overlay))
			lib, err := lint.Render(dir)
			if err != nil {
				t.Fatal(err)
			}
			if kerr != nil {
				t.Log("kubectl is not on PATH: not comparing with kubectl kustomize")
			} else {
				var stderr bytes.Buffer
				cmd := exec.CommandContext(context.Background(), kubectl, "kustomize", dir)
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, stderr.String())
				}
				if !bytes.Equal(out, lib) {
					t.Errorf("kubectl kustomize and the kustomize library disagree on %s:\n%s", dir, treetest.FirstDiff(out, lib))
				}
			}

			in, err := lint.LoadKustomize(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(in.Objects) == 0 {
				t.Fatal("the overlay renders no objects")
			}
			for _, o := range in.Objects {
				if o.Typed == nil {
					t.Errorf("%s %s/%s has no k8s.io/api type to decode into", o.APIVersion, o.Kind, o.Name)
				}
			}

			stdout, stderr, code := runCLI(t, "lint", "-o", "json", dir)
			var r lint.Report
			if err := json.Unmarshal([]byte(stdout), &r); err != nil {
				t.Fatalf("lint -o json printed no report (exit %d): %v\n%s%s", code, err, stdout, stderr)
			}
			if want := map[bool]int{true: ExitError, false: ExitOK}[r.Errors > 0]; code != want {
				t.Errorf("exit %d with %d errors, want %d", code, r.Errors, want)
			}
			if r.Objects != len(in.Objects) {
				t.Errorf("the CLI linted %d objects, the library loaded %d", r.Objects, len(in.Objects))
			}
			for _, f := range r.Findings {
				if f.Severity != lint.Error {
					continue
				}
				t.Errorf("%s: %s at %s: %s\n  fix: %s", f.Object(), f.Rule, f.Field, f.Message, f.Fix)
			}
		})
	}
}

func TestLintExampleServiceOverlays(t *testing.T) {
	checkServiceManifests(t, goldenDir)
}

// TestLintClusterProofOverlays lints the project's own overlays that the
// cluster proof (test/e2e) applies: the linter must pass the one that drops
// nothing and name the defects of the seeds' naive one, which the cluster
// shows as failed requests.
func TestLintClusterProofOverlays(t *testing.T) {
	for _, tc := range []struct {
		dir        string
		code       int
		errorRules []string
	}{
		{"../../deploy/kustomize/prod-like", ExitOK, nil},
		{"../../deploy/kustomize/naive", ExitError, []string{"drain-missing", "readiness-probe-missing"}},
	} {
		stdout, stderr, code := runCLI(t, "lint", "-o", "json", tc.dir)
		var r lint.Report
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatalf("%s: no report (exit %d): %v\n%s", tc.dir, code, err, stderr)
		}
		var rules []string
		for _, f := range r.Findings {
			if f.Severity == lint.Error {
				rules = append(rules, f.Rule)
			}
		}
		if code != tc.code || strings.Join(rules, " ") != strings.Join(tc.errorRules, " ") {
			t.Errorf("%s: exit %d with error rules %v, want exit %d with %v", tc.dir, code, rules, tc.code, tc.errorRules)
		}
	}
}

// TestLintGeneratedServiceOverlays lints a service generated now, with every
// value that reaches the manifests changed from its default, so that names,
// ports and namespaces are proven to stay wired together.
func TestLintGeneratedServiceOverlays(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "payments-api")
	_, stderr, code := runCLI(t, "new", "payments-api", "--module", "example.com/acme/payments-api",
		"-o", dir, "--http-port", "18080", "--grpc-port", "19090", "--health-port", "18081",
		"--image", "registry.example.com/acme/payments", "--host", "pay.example.org", "--namespace", "payments")
	if code != ExitOK {
		t.Fatalf("scaffold new: exit %d\n%s", code, stderr)
	}
	checkServiceManifests(t, dir)
}

// corpusBase is a clean rendered service, kept by the lint package's tests.
const corpusBase = "../lint/testdata/corpus/base"

func TestLintExitCodesAndOutput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	treetest.Write(t, bad, `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: web:1.0
        ports:
        - containerPort: 8080
`)
	notADir := filepath.Join(dir, "plain")
	if err := os.Mkdir(notADir, 0o755); err != nil {
		t.Fatal(err)
	}
	chart := filepath.Join(dir, "chart")
	treetest.Write(t, filepath.Join(chart, "Chart.yaml"), "apiVersion: v2\nname: web\nversion: 0.1.0\n")
	tests := []struct {
		name    string
		args    []string
		want    int
		stdout  []string // substrings of stdout
		wantErr string   // substring of stderr
	}{
		{name: "clean kustomize dir", args: []string{"lint", corpusBase}, want: ExitOK, stdout: []string{"8 objects: 0 errors, 0 warnings"}},
		{name: "errors exit 1", args: []string{"lint", bad}, want: ExitError,
			stdout: []string{"Deployment/web (" + bad + ")", "error   readiness-probe-missing at spec.template.spec.containers[name=web].readinessProbe (" + bad + ":13)", "fix: add a readinessProbe",
				"checked: 1 Deployment\n"},
			wantErr: "lint found"},
		{name: "skip turns rules off", args: []string{"lint", bad, "--skip", "readiness-probe-missing,drain-missing,pss-restricted"}, want: ExitOK},
		{name: "several paths are linted together", args: []string{"lint", bad, filepath.Join(corpusBase, "manifests.yaml")}, want: ExitError, stdout: []string{"9 objects"}},
		{name: "unknown output", args: []string{"lint", bad, "-o", "yaml"}, want: ExitUsage, wantErr: `-o "yaml": use text, json or sarif`},
		{name: "sarif", args: []string{"lint", bad, "-o", "sarif"}, want: ExitError,
			stdout: []string{`"version": "2.1.0"`, `"ruleId": "readiness-probe-missing"`, `"startLine": 13`}},
		{name: "optional rules run when enabled", args: []string{"lint", bad, "--enable", "labels-recommended"}, want: ExitError,
			stdout: []string{"warning labels-recommended at metadata.labels"}},
		{name: "unknown rule to enable", args: []string{"lint", bad, "--enable", "no-such-rule"}, want: ExitUsage, wantErr: `unknown rule "no-such-rule"`},
		{name: "kube version gates advice", args: []string{"lint", bad, "--kube-version", "1.28"}, want: ExitError,
			stdout: []string{"the native sleep action needs Kubernetes 1.30"}},
		{name: "bad kube version", args: []string{"lint", bad, "--kube-version", "latest"}, want: ExitUsage, wantErr: `kube version "latest"`},
		{name: "unknown rule", args: []string{"lint", bad, "--skip", "no-such-rule"}, want: ExitUsage, wantErr: `unknown rule "no-such-rule"`},
		{name: "missing path", args: []string{"lint", filepath.Join(dir, "nope.yaml")}, want: ExitUsage, wantErr: "does not exist"},
		{name: "directory without kustomization", args: []string{"lint", notADir}, want: ExitUsage, wantErr: "without a kustomization.yaml"},
		{name: "a Helm chart", args: []string{"lint", chart}, want: ExitUsage, wantErr: "helm template RELEASE " + chart + " | scaffold lint -"},
		{name: "stdin twice", args: []string{"lint", "-", "-"}, want: ExitUsage, wantErr: "more than once"},
		{name: "unknown flag", args: []string{"lint", "--strict"}, want: ExitUsage, wantErr: "unknown flag: --strict"},
		{name: "help lists the rules", args: []string{"lint", "--help"}, want: ExitOK, stdout: []string{"grace-budget", "anti-affinity-deadlock", "scaffold lint deploy/kustomize/overlays/prod"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, tt.args...)
			if code != tt.want {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.want, stdout, stderr)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout)
				}
			}
			if !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantErr, stderr)
			}
		})
	}
}

func TestLintReadsStdin(t *testing.T) {
	manifests, err := os.ReadFile(filepath.Join(corpusBase, "manifests.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"lint", "-o", "json"}, {"lint", "-", "-o", "json"}} {
		var out, errb bytes.Buffer
		cmd := NewRootCmd(&out, &errb)
		cmd.SetIn(bytes.NewReader(manifests))
		cmd.SetArgs(args)
		if err := cmd.ExecuteContext(context.Background()); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, errb.String())
		}
		var r lint.Report
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out.String())
		}
		if r.Objects != 8 || r.Errors != 0 || r.Findings == nil {
			t.Errorf("%v: report %+v, want 8 objects, no errors, an empty findings list", args, r)
		}
	}
}

// TestGatewayOnlyOverlay: an overlay that routes only through Gateway API,
// as the prod overlay's comment says to make one (the base, gateway-api and
// ingress-off), has no Ingress, an HTTPRoute and a GRPCRoute on the
// service's ports attached to the recorded Gateway, each with its own host
// name, and scaffold lint finds nothing in it.
func TestGatewayOnlyOverlay(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(goldenDir, "deploy", "kustomize"))); err != nil {
		t.Fatal(err)
	}
	overlay := filepath.Join(dir, "overlays", "gateway-only")
	if err := os.MkdirAll(overlay, 0o755); err != nil {
		t.Fatal(err)
	}
	k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- ../../base\n" +
		"components:\n- ../../components/gateway-api\n- ../../components/ingress-off\n"
	if err := os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := lint.LoadKustomize(overlay)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]*lint.Object{}
	for _, o := range in.Objects {
		kinds[o.Kind] = o
	}
	if kinds["Ingress"] != nil {
		t.Error("ingress-off left the Ingress in")
	}
	for kind, host := range map[string]string{"HTTPRoute": "example-service.example.com", "GRPCRoute": "grpc.example-service.example.com"} {
		o := kinds[kind]
		if o == nil {
			t.Errorf("no %s", kind)
			continue
		}
		var spec gatewayv1.CommonRouteSpec
		var hostnames []gatewayv1.Hostname
		switch r := o.Typed.(type) {
		case *gatewayv1.HTTPRoute:
			spec, hostnames = r.Spec.CommonRouteSpec, r.Spec.Hostnames
		case *gatewayv1.GRPCRoute:
			spec, hostnames = r.Spec.CommonRouteSpec, r.Spec.Hostnames
		}
		if got := spec.ParentRefs; len(got) != 1 || got[0].Name != "gateway" || got[0].Namespace == nil || *got[0].Namespace != "gateway-system" {
			t.Errorf("%s parentRefs = %+v, want the recorded Gateway, gateway-system/gateway", kind, got)
		}
		if got := hostnames; len(got) != 1 || string(got[0]) != host {
			t.Errorf("%s hostnames = %v, want [%s]", kind, got, host)
		}
	}
	stdout, stderr, code := runCLI(t, "lint", overlay)
	if code != ExitOK || !strings.Contains(stdout, "0 errors, 0 warnings") {
		t.Errorf("scaffold lint of the Gateway-only overlay: exit %d\n%s%s", code, stdout, stderr)
	}
}
