package cli

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTwoServicesAreIndependent renders two services with different names,
// modules and ports. Each must build and pass its own tests, and neither may
// carry any trace of the other or of example-service.
func TestTwoServicesAreIndependent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and tests two generated services")
	}
	type svc struct{ name, module, protoDir string }
	services := []svc{
		{"alpha-api", "github.com/acme/alpha-api", "alphaapi"},
		{"beta2-svc", "example.org/beta/v2", "beta2svc"},
	}
	root := t.TempDir()
	for i, s := range services {
		args := []string{"new", s.name, "--module", s.module, "-o", filepath.Join(root, s.name)}
		if i == 1 {
			args = append(args, "--http-port", "18080", "--grpc-port", "19090", "--health-port", "18081")
		}
		if _, stderr, code := runCLI(t, args...); code != ExitOK {
			t.Fatalf("scaffold %v: exit %d: %s", args, code, stderr)
		}
	}
	for i, s := range services {
		other := services[1-i]
		dir := filepath.Join(root, s.name)
		forbidden := []string{"example-service", "exampleservice", other.name, other.module, other.protoDir}
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
				"api/" + s.protoDir + "/v1/" + s.protoDir + ".proto": "package " + s.protoDir + ".v1;",
				"go.mod": "module " + s.module + "\n",
			} {
				b, err := os.ReadFile(filepath.Join(dir, file))
				if err != nil || !strings.Contains(string(b), want) {
					t.Errorf("%s: %s lacks %q (%v)", s.name, file, want, err)
				}
			}
		})
		t.Run(s.name+"/builds and passes its tests", func(t *testing.T) {
			t.Parallel()
			// The service's own Makefile: lint regenerates the protobuf code
			// with the pinned tools and fails if it differs from what scaffold
			// wrote; kustomize renders every overlay.
			steps := [][]string{{"go", "vet", "./..."}, {"go", "test", "-count=1", "./..."}, {"make", "lint", "build", "help"}}
			if _, err := exec.LookPath("kubectl"); err == nil {
				steps = append(steps, []string{"make", "kustomize"})
			}
			for _, args := range steps {
				cmd := exec.Command(args[0], args[1:]...)
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("%s in %s: %v\n%s", strings.Join(args, " "), s.name, err, out)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "bin", s.name+"-load")); err != nil {
				t.Errorf("make build did not build the load command: %v", err)
			}
		})
	}
}

// TestGeneratedWorkflowPassesActionlint checks the service's CI workflow
// with actionlint, pinned as a tool of this module.
func TestGeneratedWorkflowPassesActionlint(t *testing.T) {
	out, err := exec.Command("go", "tool", "actionlint", filepath.Join(goldenDir, ".github/workflows/ci.yaml")).CombinedOutput()
	if err != nil {
		t.Fatalf("actionlint: %v\n%s", err, out)
	}
}
