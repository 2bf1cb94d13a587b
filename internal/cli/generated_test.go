package cli

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTwoServicesAreIndependent renders two services with different names,
// modules and ports, the second without the example API (--example=false).
// Each must build and pass its own tests, and neither may carry any trace of
// the other or of example-service; the second none of the example API, and
// it must pass, under -race, every proof that the first passes.
func TestTwoServicesAreIndependent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and tests two generated services")
	}
	services := []generated{
		{name: "alpha-api", module: "github.com/acme/alpha-api", protoDir: "alphaapi", example: true},
		{name: "beta2-svc", module: "example.org/beta/v2", protoDir: "beta2svc"},
	}
	root := t.TempDir()
	for i, s := range services {
		args := []string{"new", s.name, "--module", s.module, "-o", filepath.Join(root, s.name)}
		if i == 1 {
			args = append(args, "--http-port", "18080", "--grpc-port", "19090", "--health-port", "18081", "--example=false")
		}
		if _, stderr, code := runCLI(t, args...); code != ExitOK {
			t.Fatalf("scaffold %v: exit %d: %s", args, code, stderr)
		}
	}
	t.Run("each", func(t *testing.T) {
		for i := range services {
			services[i].check(t, filepath.Join(root, services[i].name), services[1-i])
		}
	})
	if t.Failed() {
		return
	}
	withExample, without := services[0].proofs(), services[1].proofs()
	for k := range withExample {
		if !without[k] {
			t.Errorf("%s passes with the example API, but did not pass without it", k)
		}
	}
	if len(without) != len(withExample) {
		t.Errorf("without the example API %d proofs passed, with it %d", len(without), len(withExample))
	}
	t.Logf("%d proofs passed with the example API and without it", len(without))
}

// generated is one service of TestTwoServicesAreIndependent.
type generated struct {
	name, module, protoDir string
	example                bool
	// passed are the top-level tests that passed, as "package Test".
	passed map[string]bool
}

// proofs are the tests that passed, all but the example API's own, by
// package path within the module, with the service's name as NAME.
func (s *generated) proofs() map[string]bool {
	m := map[string]bool{}
	for k := range s.passed {
		k = strings.ReplaceAll(strings.TrimPrefix(k, s.module+"/"), s.name, "NAME")
		if !strings.HasPrefix(k, "internal/greeter ") {
			m[k] = true
		}
	}
	return m
}

func (s *generated) check(t *testing.T, dir string, other generated) {
	// Comments speak of the service alone: nothing points into zerodrop's
	// own issues or benchmarks, which a forked service cannot follow.
	forbidden := []string{"example-service", "exampleservice", other.name, other.module, other.protoDir, "BENCHMARKS", "issue #"}
	if !s.example {
		forbidden = append(forbidden, "Greeter", "greeter", "SayHello", "greeting")
	}
	t.Run(s.name+"/no traces", func(t *testing.T) {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			for _, f := range forbidden {
				if strings.Contains(string(b), f) || strings.Contains(rel, f) {
					t.Errorf("%s: %s contains %q", s.name, rel, f)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// Where the name must be, it is.
		for file, want := range map[string]string{
			"deploy/kustomize/base/deployment.yaml":       "app.kubernetes.io/name: " + s.name,
			"deploy/kustomize/base/pdb.yaml":              "app.kubernetes.io/name: " + s.name,
			"deploy/kustomize/base/service-headless.yaml": "name: " + s.name + "-headless",
			"deploy/kustomize/base/ingress.yaml":          "name: " + s.name,
			"deploy/kustomize/base/kustomization.yaml":    "name: " + s.name + "-config",
			"Dockerfile": "./cmd/" + s.name,
			"Makefile":   "./cmd/" + s.name,
			"README.md":  "# " + s.name,
			"api/" + s.protoDir + "/drill/v1/drill.proto": "package " + s.protoDir + ".drill.v1;",
			"go.mod": "module " + s.module + "\n",
		} {
			b, err := os.ReadFile(filepath.Join(dir, file))
			if err != nil || !strings.Contains(string(b), want) {
				t.Errorf("%s: %s lacks %q (%v)", s.name, file, want, err)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "api", s.protoDir, "v1")); s.example == errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: api/%s/v1, the example API, exists: %v; want %v", s.name, s.protoDir, err == nil, s.example)
		}
	})
	t.Run(s.name+"/builds and passes its tests", func(t *testing.T) {
		t.Parallel()
		// The service's own Makefile: lint regenerates the protobuf code
		// with the pinned tools and fails if it differs from what scaffold
		// wrote; kustomize renders every overlay. Without the example, the
		// proofs run under -race, as a team's own suite would.
		test := []string{"go", "test", "-count=1", "-json", "./..."}
		if !s.example {
			test = []string{"go", "test", "-race", "-count=1", "-json", "./..."}
		}
		steps := [][]string{{"go", "vet", "./..."}, test, {"make", "lint", "build", "help"}}
		if _, err := exec.LookPath("kubectl"); err == nil {
			steps = append(steps, []string{"make", "kustomize"})
		}
		for _, args := range steps {
			cmd := exec.Command(args[0], args[1:]...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if args[1] == "test" {
				events := readTestEvents(t, bytes.NewReader(out))
				s.passed = map[string]bool{}
				for _, k := range events.keys() {
					if r := events.byTest[k]; r.fail > 0 {
						t.Errorf("%s: %s failed:\n%s", s.name, k, r.failOutput)
					} else if _, test, _ := strings.Cut(k, " "); r.pass > 0 && !strings.Contains(test, "/") {
						s.passed[k] = true
					}
				}
			}
			if err != nil {
				t.Fatalf("%s in %s: %v\n%s%s", strings.Join(args, " "), s.name, err, out, stderr.Bytes())
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "bin", s.name+"-load")); err != nil {
			t.Errorf("make build did not build the load command: %v", err)
		}
	})
}

// TestGeneratedWorkflowPassesActionlint checks the service's CI workflow
// with actionlint, pinned as a tool of this module.
func TestGeneratedWorkflowPassesActionlint(t *testing.T) {
	out, err := exec.Command("go", "tool", "actionlint", filepath.Join(goldenDir, ".github/workflows/ci.yaml")).CombinedOutput()
	if err != nil {
		t.Fatalf("actionlint: %v\n%s", err, out)
	}
}
