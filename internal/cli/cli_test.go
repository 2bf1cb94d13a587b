package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zerodrop/zerodrop/internal/treetest"
)

// runCLI runs a fresh command tree, as the binary would, and returns what it
// printed and its exit code.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestNewRejectsBadInput(t *testing.T) {
	long := strings.Repeat("a", 55)
	tests := []struct {
		name    string
		args    []string
		setup   func(t *testing.T, dir string) // prepares the work dir
		wantErr string                         // substring of stderr
		want    int
	}{
		{name: "uppercase name", args: []string{"new", "Payments", "--module", "x.org/p"}, wantErr: `has uppercase letters: Kubernetes names are lowercase; use "payments"`, want: ExitUsage},
		{name: "leading digit", args: []string{"new", "1payments", "--module", "x.org/p"}, wantErr: `starts with a digit: start it with a letter`, want: ExitUsage},
		{name: "over-long name", args: []string{"new", long, "--module", "x.org/p"}, wantErr: `is 55 characters long: use at most 54`, want: ExitUsage},
		{name: "underscore in name", args: []string{"new", "pay_ments", "--module", "x.org/p"}, wantErr: `is not a DNS label`, want: ExitUsage},
		{name: "trailing dash", args: []string{"new", "payments-", "--module", "x.org/p"}, wantErr: `is not a DNS label`, want: ExitUsage},
		{name: "double dash", args: []string{"new", "pay--ments", "--module", "x.org/p"}, wantErr: `consecutive dashes`, want: ExitUsage},
		{name: "name the go command ignores", args: []string{"new", "testdata", "--module", "x.org/p"}, wantErr: `is a directory name that the go command ignores`, want: ExitUsage},
		{name: "missing module", args: []string{"new", "payments"}, wantErr: `module path is empty: pass --module`, want: ExitUsage},
		{name: "invalid module path", args: []string{"new", "payments", "--module", "github.com/acme/pay ments"}, wantErr: `module path "github.com/acme/pay ments" is invalid`, want: ExitUsage},
		{name: "module path with bad version suffix", args: []string{"new", "payments", "--module", "github.com/acme/p/v1"}, wantErr: `is invalid`, want: ExitUsage},
		{name: "equal ports", args: []string{"new", "payments", "--module", "x.org/p", "--grpc-port", "8080"}, wantErr: `--http-port and --grpc-port are both 8080: every port must be different`, want: ExitUsage},
		{name: "out-of-range port", args: []string{"new", "payments", "--module", "x.org/p", "--health-port", "70000"}, wantErr: `--health-port 70000 is out of range`, want: ExitUsage},
		{name: "privileged port", args: []string{"new", "payments", "--module", "x.org/p", "--http-port", "80"}, wantErr: `--http-port 80 is privileged`, want: ExitUsage},
		{name: "non-numeric port", args: []string{"new", "payments", "--module", "x.org/p", "--http-port", "web"}, wantErr: `invalid argument "web" for "--http-port"`, want: ExitUsage},
		{name: "bad image", args: []string{"new", "payments", "--module", "x.org/p", "--image", "Acme/Payments:1.0"}, wantErr: `--image "Acme/Payments:1.0" is not an image repository`, want: ExitUsage},
		{name: "bad host", args: []string{"new", "payments", "--module", "x.org/p", "--host", "pay_ments"}, wantErr: `--host "pay_ments" is not a DNS name`, want: ExitUsage},
		{name: "bad namespace", args: []string{"new", "payments", "--module", "x.org/p", "--namespace", "Prod"}, wantErr: `--namespace "Prod" is not a Kubernetes namespace name`, want: ExitUsage},
		{name: "no name", args: []string{"new", "--module", "x.org/p"}, wantErr: `new takes exactly one NAME, got 0 arguments`, want: ExitUsage},
		{name: "two names", args: []string{"new", "a", "b", "--module", "x.org/p"}, wantErr: `new takes exactly one NAME, got 2 arguments`, want: ExitUsage},
		{name: "unknown flag", args: []string{"new", "payments", "--module", "x.org/p", "--colour"}, wantErr: "unknown flag: --colour\nRun 'scaffold new --help' for usage.", want: ExitUsage},
		{
			name:    "non-empty directory",
			args:    []string{"new", "payments", "--module", "x.org/p", "-o", "out"},
			setup:   func(t *testing.T, dir string) { treetest.Write(t, filepath.Join(dir, "out", "keep.txt"), "mine") },
			wantErr: `exists and is not empty: scaffold never overwrites`, want: ExitUsage,
		},
		{
			name:    "target is a file",
			args:    []string{"new", "payments", "--module", "x.org/p", "-o", "out"},
			setup:   func(t *testing.T, dir string) { treetest.Write(t, filepath.Join(dir, "out"), "mine") },
			wantErr: `is a file, not a directory`, want: ExitUsage,
		},
		{
			name:    "parent is a file",
			args:    []string{"new", "payments", "--module", "x.org/p", "-o", "file/sub/dir"},
			setup:   func(t *testing.T, dir string) { treetest.Write(t, filepath.Join(dir, "file"), "mine") },
			wantErr: `file is a file, so file/sub/dir cannot be created under it`, want: ExitUsage,
		},
		{name: "several problems at once", args: []string{"new", "Bad_Name", "--module", "", "--http-port", "0"}, wantErr: "is not a DNS label", want: ExitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			before := treetest.Snapshot(t, dir)
			stdout, stderr, code := runCLI(t, tt.args...)
			if code != tt.want {
				t.Errorf("exit code = %d, want %d\nstderr: %s", code, tt.want, stderr)
			}
			if !strings.HasPrefix(stderr, "scaffold: ") || !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("stderr = %q, want it to start with \"scaffold: \" and contain %q", stderr, tt.wantErr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			if after := treetest.Snapshot(t, dir); after != before {
				t.Errorf("the work directory changed:\nbefore: %s\nafter:  %s", before, after)
			}
		})
	}
}

func TestNewDryRunWritesNothing(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	stdout, stderr, code := runCLI(t, "new", "orders2-api", "--module", "example.com/orders/v2", "--dry-run")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"would create orders2-api/ with ",
		"  cmd/orders2-api/main.go\n",
		"  api/orders2api/v1/orders2api.proto\n",
		"  api/orders2api/v1/orders2api.pb.go\n",
		"  api/orders2api/v1/orders2api_grpc.pb.go\n",
		"  deploy/kustomize/base/deployment.yaml\n",
		"  .scaffold.yaml\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("dry-run output lacks %q:\n%s", want, stdout)
		}
	}
	if names := treetest.Entries(t, dir); len(names) != 0 {
		t.Errorf("dry run wrote %v", names)
	}
}

func TestNewWritesService(t *testing.T) {
	tests := []struct {
		name, module string
		extra        []string
	}{
		{name: "orders2-api", module: "example.com/orders/v2"},
		{name: "a1", module: "gitlab.com/acme/deep/path/a1", extra: []string{"--http-port", "18080", "--grpc-port", "19090", "--health-port", "18081"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			args := append([]string{"new", tt.name, "--module", tt.module}, tt.extra...)
			stdout, stderr, code := runCLI(t, args...)
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if !strings.Contains(stdout, "created "+tt.name+"/") {
				t.Errorf("stdout = %q", stdout)
			}
			if names := treetest.Entries(t, dir); len(names) != 1 || names[0] != tt.name {
				t.Errorf("work dir holds %v, want only %s (no staging leftovers)", names, tt.name)
			}
			gomod, err := os.ReadFile(filepath.Join(dir, tt.name, "go.mod"))
			if err != nil || !strings.HasPrefix(string(gomod), "module "+tt.module+"\n") {
				t.Errorf("go.mod = %q, %v", gomod, err)
			}
			// Writing again is refused and changes nothing.
			_, stderr, code = runCLI(t, args...)
			if code != ExitUsage || !strings.Contains(stderr, "never overwrites") {
				t.Errorf("second run: exit %d, %s", code, stderr)
			}
		})
	}
}

func TestNewIntoEmptyDirectory(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.Mkdir("svc", 0o755); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := runCLI(t, "new", "svc", "--module", "example.com/svc"); code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "svc", "cmd", "svc", "main.go")); err != nil {
		t.Error(err)
	}
}

// TestNewCreatesParents: -o may name a directory whose parents do not exist
// yet, as with mkdir -p.
func TestNewCreatesParents(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if _, stderr, code := runCLI(t, "new", "svc", "--module", "example.com/svc", "-o", "services/team/svc"); code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "services", "team", "svc", "cmd", "svc", "main.go")); err != nil {
		t.Error(err)
	}
	if names := treetest.Entries(t, filepath.Join(dir, "services", "team")); len(names) != 1 {
		t.Errorf("beside the service: %v, want only svc", names)
	}
}

func TestHelpShowsExampleAndTree(t *testing.T) {
	stdout, _, code := runCLI(t, "new", "--help")
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{
		"scaffold new payments-api --module github.com/acme/payments-api",
		"Generated files, for NAME=payments-api:",
		"      payments-api/\n",
		"main.go",
		"deployment.yaml",
		"--dry-run",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("help lacks %q:\n%s", want, stdout)
		}
	}
}

func TestVersionAndCompletion(t *testing.T) {
	stdout, _, code := runCLI(t, "version")
	if code != ExitOK || !strings.HasPrefix(stdout, "scaffold 0.1.0 ") {
		t.Errorf("version: exit %d, %q", code, stdout)
	}
	stdout, _, code = runCLI(t, "completion", "bash")
	if code != ExitOK || !strings.Contains(stdout, "__start_scaffold") {
		t.Errorf("completion bash: exit %d, %d bytes", code, len(stdout))
	}
}

// TestNewBuildsProtoToolsOnce starts from an empty cache: two services
// generated at the same time must both succeed and share one build of the
// protobuf tools, with no half-built directory left behind.
func TestNewBuildsProtoToolsOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the protobuf tools")
	}
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	dir := t.TempDir()
	errs := make(chan string, 2)
	for _, name := range []string{"first", "second"} {
		go func() {
			_, stderr, code := runCLI(t, "new", name, "--module", "example.com/"+name, "-o", filepath.Join(dir, name))
			if code != ExitOK {
				errs <- name + ": " + stderr
				return
			}
			errs <- ""
		}()
	}
	for range 2 {
		if e := <-errs; e != "" {
			t.Error(e)
		}
	}
	builds := treetest.Entries(t, filepath.Join(cache, "zerodrop", "prototools"))
	if len(builds) != 1 || strings.Contains(builds[0], ".build-") {
		t.Errorf("tools cache holds %v, want exactly one finished build", builds)
	}
	for _, name := range []string{"first", "second"} {
		if _, err := os.Stat(filepath.Join(dir, name, "api", name, "v1", name+"_grpc.pb.go")); err != nil {
			t.Error(err)
		}
	}
}
