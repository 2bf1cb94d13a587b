package update_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/zerodrop/zerodrop/internal/cli"
	"github.com/zerodrop/zerodrop/internal/render"
	"github.com/zerodrop/zerodrop/internal/tree"
	"github.com/zerodrop/zerodrop/internal/treetest"
	"github.com/zerodrop/zerodrop/internal/update"
)

// Every test here starts from a real generated service, committed to a real
// git repository, and runs the engine on it as scaffold update does.

const (
	svcName   = "orders-api"
	svcModule = "example.com/orders-api"
	svcProto  = "ordersapi"
	// legacyCommit is the last commit of main before scaffold update: its
	// services record no template hash.
	legacyCommit = "61acd2c"
	// repoRoot is the zerodrop repository, relative to this package.
	repoRoot = "../.."
)

// runCLI runs scaffold, for the services the tests start from.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = cli.Run(args, &out, &errb)
	return out.String(), errb.String(), code
}

// runUpdate runs the engine as scaffold update does, and reports what the
// command would: its output, its errors and its exit status.
func runUpdate(t *testing.T, o update.Options) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = cli.Report(update.Run(context.Background(), o, &out, &errb), &errb)
	return out.String(), errb.String(), code
}

// olderTree is the current template tree taken back one release: each
// change here is a template change that scaffold update must deliver.
func olderTree(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "service")
	if err := os.CopyFS(dir, render.Builtin()); err != nil {
		t.Fatal(err)
	}
	at := func(p string) string { return filepath.Join(dir, filepath.FromSlash(p)) }
	// A setting the Deployment did not have yet.
	treetest.ReplaceOnce(t, at("deploy/kustomize/base/deployment.yaml.tmpl"), "  revisionHistoryLimit: 5\n", "")
	// Lines the template changed, in files the user edits elsewhere.
	treetest.ReplaceOnce(t, at("README.md.tmpl"), "make help   # everything else", "make help   # the other targets")
	treetest.ReplaceOnce(t, at("internal/httpserver/handlers.go.tmpl"), "// versionHandler serves GET /version.", "// versionHandler answers GET /version.")
	treetest.ReplaceOnce(t, at("api/__protopkg__/v1/__protopkg__.proto.tmpl"), "// Greeter is the example API of {{.Name}}.", "// Greeter is the example API.")
	treetest.ReplaceOnce(t, at("deploy/kustomize/overlays/prod/hpa.yaml.tmpl"), "averageUtilization: 70", "averageUtilization: 80")
	// A file the template added since, two it removed, and one it moved.
	if err := os.Remove(at(".dockerignore.tmpl")); err != nil {
		t.Fatal(err)
	}
	treetest.Write(t, at("docs/runbook.md.tmpl"), "# {{.Name}} runbook\n\nRestart it.\n")
	treetest.Write(t, at("docs/oncall.md.tmpl"), "# {{.Name}} on call\n\nNobody yet.\n")
	if err := os.Rename(at(".github/workflows/ci.yaml.tmpl"), at(".github/workflows/build.yaml.tmpl")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// newService generates orders-api from tree ("" for the built-in one) into a
// fresh directory and returns it.
func newService(t *testing.T, tree string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), svcName)
	args := []string{"new", svcName, "--module", svcModule, "-o", dir}
	if tree != "" {
		args = append(args, "--from", tree)
	}
	if _, stderr, code := runCLI(t, args...); code != cli.ExitOK {
		t.Fatalf("scaffold %v: exit %d: %s", args, code, stderr)
	}
	return dir
}

// userEdits are the edits a user makes to a generated service, each with a
// line that must survive any update.
var userEdits = []struct{ file, marker string }{
	{"internal/httpserver/handlers.go", "func ping() http.HandlerFunc"},
	{"internal/httpserver/server.go", `route("GET /ping", "ping", ping())`},
	{"internal/httpserver/ping_test.go", "func TestPing("},
	{"api/" + svcProto + "/v1/" + svcProto + ".proto", "rpc Ping(PingRequest) returns (PingResponse)"},
	{"internal/greeter/greeter.go", "func (g *Greeter) Ping("},
	{"deploy/kustomize/overlays/prod/hpa.yaml", "minReplicas: 4"},
	{"README.md", "Orders on call: page #orders-oncall before any rollout."},
}

// editLikeAUser makes the edits users make: an HTTP handler with its route
// and test, a new RPC with its implementation and regenerated code, more
// replicas in prod, and a README paragraph. Then it commits them. The
// Greeter is where the service's layout has it: internal/greeter, or
// internal/grpcserver before the example API moved out of the runtime.
func editLikeAUser(t *testing.T, dir string) {
	t.Helper()
	at := func(p string) string { return filepath.Join(dir, filepath.FromSlash(p)) }
	greeter := "internal/greeter/greeter.go"
	if _, err := os.Stat(at(greeter)); err != nil {
		greeter = "internal/grpcserver/greeter.go"
	}
	treetest.AppendTo(t, at("internal/httpserver/handlers.go"), `
// ping answers GET /ping with "pong", for the load balancer's own checks.
func ping() http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]string{"ping": "pong"})
	}
}
`)
	treetest.ReplaceOnce(t, at("internal/httpserver/server.go"), `	route("GET /version", "version", versionHandler(deps.Info))
`, `	route("GET /version", "version", versionHandler(deps.Info))
	route("GET /ping", "ping", ping())
`)
	treetest.Write(t, at("internal/httpserver/ping_test.go"), `package httpserver

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPing(t *testing.T) {
	rec := httptest.NewRecorder()
	ping()(rec, httptest.NewRequest("GET", "/ping", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "pong") {
		t.Errorf("GET /ping = %d %q", rec.Code, rec.Body.String())
	}
}
`)
	proto := at("api/" + svcProto + "/v1/" + svcProto + ".proto")
	treetest.ReplaceOnce(t, proto, `  // GetVersion reports the version this replica serves.
`, `  // Ping answers at once, from whichever replica gets it.
  rpc Ping(PingRequest) returns (PingResponse) {
    option idempotency_level = NO_SIDE_EFFECTS;
  }

  // GetVersion reports the version this replica serves.
`)
	treetest.ReplaceOnce(t, proto, "message GetVersionRequest {}\n", "message GetVersionRequest {}\n\nmessage PingRequest {}\n\nmessage PingResponse {\n  string hostname = 1;\n}\n")
	treetest.ReplaceOnce(t, at(greeter), `// GetVersion implements Greeter.GetVersion.
`, `// Ping implements Greeter.Ping.
func (g *Greeter) Ping(context.Context, *`+svcProto+`v1.PingRequest) (*`+svcProto+`v1.PingResponse, error) {
	return &`+svcProto+`v1.PingResponse{Hostname: g.hostname}, nil
}

// GetVersion implements Greeter.GetVersion.
`)
	regenerateProto(t, dir)
	treetest.ReplaceOnce(t, at("deploy/kustomize/overlays/prod/hpa.yaml"), "minReplicas: 3", "minReplicas: 4")
	treetest.ReplaceOnce(t, at("README.md"), "\n## Deploying\n", "\n## On call\n\nOrders on call: page #orders-oncall before any rollout.\n\n## Deploying\n")
	treetest.CommitAll(t, dir, "our edits")
}

// regenerateProto does what the service's make generate does, with the same
// pinned tools, and writes the result into dir.
func regenerateProto(t *testing.T, dir string) {
	t.Helper()
	var inputs []render.File
	for _, p := range []string{"tools/go.mod", "tools/go.sum", "tools/protogen/main.go", "api/" + svcProto + "/v1/" + svcProto + ".proto"} {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, render.File{Path: p, Content: b})
	}
	out, err := render.GenerateProto(context.Background(), inputs)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range out {
		treetest.Write(t, filepath.Join(dir, filepath.FromSlash(f.Path)), string(f.Content))
	}
}

// assertEditsKept checks every user edit is still in dir.
func assertEditsKept(t *testing.T, dir string) {
	t.Helper()
	for _, e := range userEdits {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(e.file)))
		if err != nil || !strings.Contains(string(b), e.marker) {
			t.Errorf("the user's edit to %s is lost: it lacks %q (%v)", e.file, e.marker, err)
		}
	}
	grpc := filepath.Join(dir, "api", svcProto, "v1", svcProto+"_grpc.pb.go")
	if b, err := os.ReadFile(grpc); err != nil || !strings.Contains(string(b), "Ping(ctx context.Context, in *PingRequest") {
		t.Errorf("%s was not generated from the merged .proto: it lacks the user's Ping (%v)", grpc, err)
	}
}

// assertTemplateArrived checks that every file the user did not edit is now
// byte for byte what the current templates render, and that the template's
// changes reached the files the user did edit.
func assertTemplateArrived(t *testing.T, dir string, alsoEdited ...string) {
	t.Helper()
	want := treetest.Read(t, newService(t, ""))
	got := treetest.Read(t, dir)
	edited := map[string]bool{}
	for _, p := range alsoEdited {
		edited[p] = true
	}
	for _, e := range userEdits {
		edited[e.file] = true
	}
	d := render.Data{Name: svcName}
	proto := render.File{Path: "api/" + d.ProtoDir() + "/v1/" + d.ProtoDir() + ".proto"}
	for _, g := range render.GeneratedFiles([]render.File{proto}) {
		edited[g] = true // they carry the user's Ping
	}
	for p, w := range want {
		if edited[p] {
			continue
		}
		if g, ok := got[p]; !ok {
			t.Errorf("%s is missing after the update", p)
		} else if !bytes.Equal(g, w) {
			t.Errorf("%s differs from the current template:\n%s", p, treetest.FirstDiff(w, g))
		}
	}
	for file, line := range map[string]string{
		"README.md":                       "make help   # everything else",
		"internal/httpserver/handlers.go": "// versionHandler serves GET /version.",
		"api/" + svcProto + "/v1/" + svcProto + ".proto": "// Greeter is the example API of " + svcName + ".",
		"deploy/kustomize/overlays/prod/hpa.yaml":        "averageUtilization: 70",
	} {
		if !strings.Contains(string(got[file]), line) {
			t.Errorf("the template's change to %s did not arrive: it lacks %q", file, line)
		}
	}
}

// TestUpdateKeepsEditsAndDeliversTemplateChanges is the whole workflow: a
// service generated by an older template tree, edited the way users edit
// and committed, is updated to the current templates.
func TestUpdateKeepsEditsAndDeliversTemplateChanges(t *testing.T) {
	dir := newService(t, olderTree(t))
	at := func(p string) string { return filepath.Join(dir, filepath.FromSlash(p)) }
	editLikeAUser(t, dir)
	// Two more edits: to a file the template moves, and to one it removes.
	treetest.ReplaceOnce(t, at(".github/workflows/build.yaml"), "name: ci\n", "# We also run this on release branches.\nname: ci\n")
	treetest.AppendTo(t, at("docs/oncall.md"), "\nAda, this week.\n")
	treetest.CommitAll(t, dir, "more edits")

	before := treetest.Read(t, dir)
	stdout, stderr, code := runUpdate(t, update.Options{Dir: dir, DryRun: true})
	if code != cli.ExitOK {
		t.Fatalf("update --dry-run: exit %d\n%s%s", code, stdout, stderr)
	}
	if after := treetest.Read(t, dir); !treetest.Equal(before, after) {
		t.Fatal("update --dry-run changed the service")
	}
	wantPlan := []string{
		"would update " + dir + " from template sha256:",
		"  added        .dockerignore\n",
		"  renamed      .github/workflows/ci.yaml (moved from .github/workflows/build.yaml)\n",
		"  merged       README.md\n",
		"  regenerated  api/" + svcProto + "/v1/" + svcProto + "_grpc.pb.go\n",
		"  merged       api/" + svcProto + "/v1/" + svcProto + ".proto\n",
		"  updated      deploy/kustomize/base/deployment.yaml\n",
		"  merged       deploy/kustomize/overlays/prod/hpa.yaml\n",
		"  kept         docs/oncall.md: the template no longer has it, but you changed it\n",
		"  deleted      docs/runbook.md\n",
		"  merged       internal/httpserver/handlers.go\n",
	}
	for _, w := range wantPlan {
		if !strings.Contains(stdout, w) {
			t.Errorf("the plan lacks %q:\n%s", w, stdout)
		}
	}
	for _, unwanted := range []string{"server.go", "greeter.go", "ping_test.go", "conflict"} {
		if strings.Contains(stdout, unwanted) {
			t.Errorf("the plan mentions %s, which only the user changed:\n%s", unwanted, stdout)
		}
	}

	stdout, stderr, code = runUpdate(t, update.Options{Dir: dir})
	if code != cli.ExitOK {
		t.Fatalf("update: exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.HasPrefix(stdout, "updating "+dir+" from template sha256:") || !strings.Contains(stdout, wantPlan[3]) {
		t.Errorf("update output lacks the plan:\n%s", stdout)
	}
	assertEditsKept(t, dir)
	assertTemplateArrived(t, dir, ".github/workflows/ci.yaml")
	ci, err := os.ReadFile(at(".github/workflows/ci.yaml"))
	if err != nil || !strings.Contains(string(ci), "# We also run this on release branches.\nname: ci\n") {
		t.Errorf("the moved workflow lost the user's line (%v):\n%s", err, ci)
	}
	for _, gone := range []string{".github/workflows/build.yaml", "docs/runbook.md"} {
		if _, err := os.Stat(at(gone)); err == nil {
			t.Errorf("%s is still there", gone)
		}
	}
	if b, err := os.ReadFile(at("docs/oncall.md")); err != nil || !strings.Contains(string(b), "Ada, this week.") {
		t.Errorf("docs/oncall.md, which the user changed, was not kept: %v", err)
	}
	if entries := treetest.Entries(t, filepath.Dir(dir)); len(entries) != 1 {
		t.Errorf("the update left files beside the service: %v", entries)
	}
	if out := treetest.Git(t, dir, "status", "--porcelain", "--ignored"); strings.Contains(out, ".scaffold-") {
		t.Errorf("the update left temporary files:\n%s", out)
	}

	// It builds, and its tests pass: the user's and the template's.
	treetest.RunIn(t, dir, "go", "vet", "./...")
	if !testing.Short() {
		treetest.RunIn(t, dir, "go", "test", "-count=1", "./...")
	}

	// Once committed, updating again to the same templates changes nothing.
	treetest.CommitAll(t, dir, "scaffold update")
	before = treetest.Read(t, dir)
	if stdout, stderr, code := runUpdate(t, update.Options{Dir: dir}); code != cli.ExitOK || !strings.Contains(stdout, "already up to date") {
		t.Errorf("second update: exit %d\n%s%s", code, stdout, stderr)
	}
	if !treetest.Equal(before, treetest.Read(t, dir)) {
		t.Error("a second update changed the service")
	}
}

// TestUpdateConflictKeepsBothSides edits a line that the template changed
// too: the update must mark it, keep both versions, list it and exit 1,
// while delivering everything else.
func TestUpdateConflictKeepsBothSides(t *testing.T) {
	dir := newService(t, olderTree(t))
	readme := filepath.Join(dir, "README.md")
	treetest.ReplaceOnce(t, readme, "make help   # the other targets", "make help   # every target, described")
	// The .proto too: its generated code must then be left alone, not
	// regenerated from a file full of markers.
	proto := filepath.Join(dir, "api", svcProto, "v1", svcProto+".proto")
	treetest.ReplaceOnce(t, proto, "// Greeter is the example API.", "// Greeter is our orders API.")
	treetest.CommitAll(t, dir, "our README and API comment")
	generated := render.GeneratedFiles([]render.File{{Path: "api/" + svcProto + "/v1/" + svcProto + ".proto"}})

	before := treetest.Read(t, dir)
	stdout, stderr, code := runUpdate(t, update.Options{Dir: dir, DryRun: true})
	if code != cli.ExitError || !strings.Contains(stdout, "  conflict     README.md\n") || !strings.Contains(stderr, "would have conflicts:\n  README.md") {
		t.Errorf("--dry-run: exit %d, want %d and the conflict listed\nstdout:\n%s\nstderr:\n%s", code, cli.ExitError, stdout, stderr)
	}
	if !treetest.Equal(before, treetest.Read(t, dir)) {
		t.Fatal("update --dry-run changed the service")
	}
	stdout, stderr, code = runUpdate(t, update.Options{Dir: dir})
	if code != cli.ExitError {
		t.Fatalf("exit %d, want %d\n%s%s", code, cli.ExitError, stdout, stderr)
	}
	if !strings.Contains(stdout, "  conflict     README.md\n") || !strings.Contains(stderr, "have conflicts") || !strings.Contains(stderr, "\n  README.md\n  api/"+svcProto) {
		t.Errorf("the conflicts are not listed:\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	if !strings.Contains(stdout, "  conflict     api/"+svcProto+"/v1/"+svcProto+".proto: the protobuf code was not regenerated") {
		t.Errorf("the plan does not say the protobuf code was left alone:\n%s", stdout)
	}
	after := treetest.Read(t, dir)
	for _, g := range generated {
		if !bytes.Equal(before[g], after[g]) {
			t.Errorf("%s was regenerated from a .proto with conflict markers", g)
		}
	}
	if b := string(after["api/"+svcProto+"/v1/"+svcProto+".proto"]); !strings.Contains(b, "<<<<<<< yours\n// Greeter is our orders API.") || !strings.Contains(b, "// Greeter is the example API of "+svcName+".") {
		t.Errorf("the .proto lacks one side of its conflict:\n%s", b)
	}
	b, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	want := "<<<<<<< yours\nmake help   # every target, described\n=======\nmake help   # everything else\n>>>>>>> template sha256:"
	if !strings.Contains(string(b), want) {
		t.Errorf("README.md lacks the conflict with both sides, %q:\n%s", want, b)
	}
	deployment, err := os.ReadFile(filepath.Join(dir, "deploy/kustomize/base/deployment.yaml"))
	if err != nil || !strings.Contains(string(deployment), "revisionHistoryLimit: 5") {
		t.Errorf("the rest of the update did not arrive with the conflict: %v", err)
	}
}

// TestUpdateToItselfIsANoOp updates an edited service generated by the
// current templates: not one byte may change, generated code included.
func TestUpdateToItselfIsANoOp(t *testing.T) {
	dir := newService(t, "")
	editLikeAUser(t, dir)
	before := treetest.Read(t, dir)
	for _, dryRun := range []bool{true, false} {
		stdout, stderr, code := runUpdate(t, update.Options{Dir: dir, DryRun: dryRun})
		if code != cli.ExitOK || !strings.Contains(stdout, "already up to date") {
			t.Errorf("dry run %v: exit %d\n%s%s", dryRun, code, stdout, stderr)
		}
	}
	after := treetest.Read(t, dir)
	for p := range before {
		if !bytes.Equal(before[p], after[p]) {
			t.Errorf("%s changed", p)
		}
	}
	if len(after) != len(before) {
		t.Errorf("the update went from %d files to %d", len(before), len(after))
	}
}

// TestUpdateFromLegacyService updates a service generated by the scaffold of
// main as it was before scaffold update (commit 61acd2c, whose record has no
// template hash), built from that commit and found again through --from-git.
func TestUpdateFromLegacyService(t *testing.T) {
	if out, err := exec.Command("git", "-C", repoRoot, "cat-file", "-e", legacyCommit+"^{commit}").CombinedOutput(); err != nil {
		t.Fatalf("this test needs the zerodrop git history, with commit %s (the last before scaffold update), to build a legacy service: %v %s\nIn a shallow clone, run git fetch --unshallow.", legacyCommit, err, out)
	}
	// scaffold as it was at that commit, built from its own source.
	src := t.TempDir()
	archive, err := exec.Command("git", "-C", repoRoot, "archive", "--format=tar", legacyCommit, "go.mod", "go.sum", "cmd", "internal", "templates").Output()
	if err != nil {
		t.Fatalf("git archive %s: %v", legacyCommit, err)
	}
	untar := exec.Command("tar", "-x", "-C", src)
	untar.Stdin = bytes.NewReader(archive)
	if out, err := untar.CombinedOutput(); err != nil {
		t.Fatalf("tar -x: %v\n%s", err, out)
	}
	oldScaffold := filepath.Join(src, "scaffold-"+legacyCommit)
	treetest.RunIn(t, src, "go", "build", "-o", oldScaffold, "./cmd/scaffold")
	dir := filepath.Join(t.TempDir(), svcName)
	treetest.RunIn(t, filepath.Dir(dir), oldScaffold, "new", svcName, "--module", svcModule, "-o", dir)

	// What the current renderer makes of that commit's tree is exactly what
	// its scaffold wrote: that is the base the update merges from.
	legacyTree := t.TempDir()
	if _, err := tree.Git(context.Background(), repoRoot, legacyCommit, legacyTree); err != nil {
		t.Fatal(err)
	}
	if !treetest.Equal(treetest.Read(t, dir), treetest.Read(t, newService(t, legacyTree))) {
		t.Fatalf("the current renderer does not reproduce what scaffold %s generated from its own templates", legacyCommit)
	}
	if rec, _ := os.ReadFile(filepath.Join(dir, render.RecordFile)); strings.Contains(string(rec), "templateHash") {
		t.Fatalf("a service of %s records a template hash; it is not a legacy service:\n%s", legacyCommit, rec)
	}
	editLikeAUser(t, dir)

	_, stderr, code := runUpdate(t, update.Options{Dir: dir})
	if code != cli.ExitUsage || !strings.Contains(stderr, "no templateHash") || !strings.Contains(stderr, "--from-git") {
		t.Errorf("update without a tree: exit %d, want %d and a message naming --from-git:\n%s", code, cli.ExitUsage, stderr)
	}
	stdout, stderr, code := runUpdate(t, update.Options{Dir: dir, FromGit: legacyCommit, Repo: repoRoot})
	if code != cli.ExitOK {
		t.Fatalf("update --from-git %s: exit %d\n%s%s", legacyCommit, code, stdout, stderr)
	}
	assertEditsKept(t, dir)
	if b, err := os.ReadFile(filepath.Join(dir, "README.md")); err != nil || !strings.Contains(string(b), "\n## Updating from the template\n") {
		t.Errorf("README.md lacks the template's new section (%v)", err)
	}
	builtin, err := tree.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	rec, err := os.ReadFile(filepath.Join(dir, render.RecordFile))
	if err != nil || !strings.Contains(string(rec), "templateHash: "+builtin.Hash+"\n") {
		t.Errorf("the record does not name the current tree %s:\n%s", builtin.Hash, rec)
	}
	treetest.RunIn(t, dir, "go", "vet", "./...")
	// The Go floor arrives: go.mod's toolchain line, the Dockerfile's builder
	// and CI's setup-go, which the service's own test holds to the floor and
	// to each other.
	if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err != nil || !regexp.MustCompile(`(?m)^toolchain go1\.\d+\.\d+$`).Match(b) {
		t.Errorf("go.mod lacks the template's toolchain line (%v):\n%s", err, b)
	}
	treetest.RunIn(t, dir, "go", "test", "-count=1", "-run", "TestToolchainFloor", "./internal/version/")
	// From now on the record names its tree, and a second update needs no flag.
	treetest.CommitAll(t, dir, "scaffold update")
	if stdout, stderr, code := runUpdate(t, update.Options{Dir: dir}); code != cli.ExitOK || !strings.Contains(stdout, "already up to date") {
		t.Errorf("second update: exit %d\n%s%s", code, stdout, stderr)
	}
}

// layoutCommit is the last commit of main before the example API moved out
// of the runtime (internal/grpcserver/greeter.go became internal/greeter,
// with the drill beside it).
const layoutCommit = "67538e3"

// TestUpdateAcrossTheExampleMove updates a service generated at
// layoutCommit, whose example API and runtime the user edited, to the
// current layout: every edit is kept, the Greeter's move carries the user's
// RPC to its new home, nothing conflicts, and the result passes its tests,
// OpenTelemetry's among them (issue 28: existing services get tracing
// through scaffold update).
func TestUpdateAcrossTheExampleMove(t *testing.T) {
	if out, err := exec.Command("git", "-C", repoRoot, "cat-file", "-e", layoutCommit+"^{commit}").CombinedOutput(); err != nil {
		t.Fatalf("this test needs the zerodrop git history, with commit %s: %v %s\nIn a shallow clone, run git fetch --unshallow.", layoutCommit, err, out)
	}
	oldTree := t.TempDir()
	if _, err := tree.Git(context.Background(), repoRoot, layoutCommit, oldTree); err != nil {
		t.Fatal(err)
	}
	dir := newService(t, oldTree)
	if _, err := os.Stat(filepath.Join(dir, "internal/grpcserver/greeter.go")); err != nil {
		t.Fatalf("a service of %s has no internal/grpcserver/greeter.go: it is not the old layout: %v", layoutCommit, err)
	}
	editLikeAUser(t, dir)

	stdout, stderr, code := runUpdate(t, update.Options{Dir: dir, FromGit: layoutCommit, Repo: repoRoot})
	if code != cli.ExitOK {
		t.Fatalf("update --from-git %s: exit %d, want %d with no conflict\n%s%s", layoutCommit, code, cli.ExitOK, stdout, stderr)
	}
	for _, want := range []string{
		"internal/greeter/greeter.go (moved from internal/grpcserver/greeter.go)",
		"added        internal/drill/drill.go",
		"added        cmd/" + svcName + "/api.go",
		// OpenTelemetry came after that commit: an existing service gets
		// it, and its tests (tracing_test.go across two processes) run
		// below.
		"added        internal/tracing/tracing.go",
		"added        cmd/" + svcName + "/tracing_test.go",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the plan lacks %q:\n%s", want, stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "internal/grpcserver/greeter.go")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("internal/grpcserver/greeter.go is still there after its move: %v", err)
	}
	assertEditsKept(t, dir)
	treetest.RunIn(t, dir, "go", "vet", "./...")
	treetest.RunIn(t, dir, "go", "test", "-count=1", "./...")
}

// TestUpdateRejectsBadInput covers every refusal: each must exit non-zero
// with a message that says what is wrong and how to fix it, and leave the
// service as it was.
func TestUpdateRejectsBadInput(t *testing.T) {
	committed := func(t *testing.T, tree string, edit func(t *testing.T, dir string)) string {
		dir := newService(t, tree)
		if edit != nil {
			edit(t, dir)
		}
		treetest.CommitAll(t, dir, "generated")
		return dir
	}
	record := func(dir string) string { return filepath.Join(dir, render.RecordFile) }
	tests := []struct {
		name    string
		setup   func(t *testing.T) (dir string, o update.Options)
		want    int
		wantErr []string
	}{
		{
			name: "no record",
			setup: func(t *testing.T) (string, update.Options) {
				dir := committed(t, "", func(t *testing.T, dir string) { _ = os.Remove(record(dir)) })
				return dir, update.Options{}
			},
			want: cli.ExitUsage, wantErr: []string{"has no .scaffold.yaml", "To adopt it", "scaffold new NAME --module PATH -o /tmp/fresh"},
		},
		{
			name: "legacy record and no tree",
			setup: func(t *testing.T) (string, update.Options) {
				return committed(t, "", func(t *testing.T, dir string) {
					b, _ := os.ReadFile(record(dir))
					line := string(b)[strings.Index(string(b), "templateHash:"):]
					treetest.ReplaceOnce(t, record(dir), line[:strings.Index(line, "\n")+1], "")
				}), update.Options{}
			},
			want: cli.ExitUsage, wantErr: []string{"no templateHash", "--from-git REV", "--from DIR"},
		},
		{
			name: "tree neither built in nor cached",
			setup: func(t *testing.T) (string, update.Options) {
				return committed(t, "", func(t *testing.T, dir string) {
					b, _ := os.ReadFile(record(dir))
					h := string(b)[strings.Index(string(b), "sha256:"):][:len("sha256:")+64]
					treetest.ReplaceOnce(t, record(dir), h, "sha256:"+strings.Repeat("0", 64))
				}), update.Options{}
			},
			want: cli.ExitUsage, wantErr: []string{"neither built into this scaffold nor in the template cache", "--from DIR", "--from-git REV"},
		},
		{
			name: "record from a newer scaffold",
			setup: func(t *testing.T) (string, update.Options) {
				return committed(t, "", func(t *testing.T, dir string) {
					treetest.ReplaceOnce(t, record(dir), "scaffoldVersion: "+render.Version+"\n", "scaffoldVersion: 9.0.0\n")
				}), update.Options{}
			},
			want: cli.ExitUsage, wantErr: []string{"last rendered by scaffold 9.0.0, newer than this scaffold " + render.Version, "use scaffold 9.0.0 or later"},
		},
		{
			name: "--from another tree",
			setup: func(t *testing.T) (string, update.Options) {
				return committed(t, "", nil), update.Options{From: olderTree(t)}
			},
			want:    cli.ExitUsage,
			wantErr: []string{"but .scaffold.yaml records", "give that one"},
		},
		{
			name: "--from not a tree",
			setup: func(t *testing.T) (string, update.Options) {
				return committed(t, "", nil), update.Options{From: t.TempDir()}
			},
			want:    cli.ExitUsage,
			wantErr: []string{"is not a scaffold template tree"},
		},
		{
			name: "--from and --from-git",
			setup: func(t *testing.T) (string, update.Options) {
				return committed(t, "", nil), update.Options{From: "x", FromGit: "y"}
			},
			want:    cli.ExitUsage,
			wantErr: []string{"--from and --from-git both name the old template tree: pass one"},
		},
		{
			name: "--from-git unknown revision",
			setup: func(t *testing.T) (string, update.Options) {
				return committed(t, "", nil), update.Options{FromGit: "no-such-rev", Repo: repoRoot}
			},
			want: cli.ExitUsage, wantErr: []string{"--from-git no-such-rev: git archive", "a commit or tag that it holds"},
		},
		{
			name: "unknown answer",
			setup: func(t *testing.T) (string, update.Options) {
				return committed(t, "", nil), update.Options{Answers: map[string]string{"colour": "blue"}}
			},
			want:    cli.ExitUsage,
			wantErr: []string{`unknown answer "colour": the answers are example, gateway, gatewayNamespace, grpcPort, healthPort, host, httpPort, image, module, name, namespace`},
		},
		{
			name: "bad answer",
			setup: func(t *testing.T) (string, update.Options) {
				return committed(t, "", nil), update.Options{Answers: map[string]string{"httpPort": "80"}}
			},
			want:    cli.ExitUsage,
			wantErr: []string{"--http-port 80 is privileged"},
		},
		{
			name: "uncommitted changes",
			setup: func(t *testing.T) (string, update.Options) {
				dir := committed(t, "", nil)
				treetest.AppendTo(t, filepath.Join(dir, "README.md"), "\nwork in progress\n")
				return dir, update.Options{}
			},
			want: cli.ExitUsage, wantErr: []string{"has uncommitted changes", "M README.md", "or pass --force"},
		},
		{
			name:    "not in git",
			setup:   func(t *testing.T) (string, update.Options) { return newService(t, ""), update.Options{} },
			want:    cli.ExitUsage,
			wantErr: []string{"is not a git work tree", "git init && git add -A && git commit", "or pass --force"},
		},
		{
			name: "a .proto that does not compile",
			setup: func(t *testing.T) (string, update.Options) {
				return committed(t, olderTree(t), func(t *testing.T, dir string) {
					treetest.AppendTo(t, filepath.Join(dir, "api", svcProto, "v1", svcProto+".proto"), "\nmessage Broken {\n")
				}), update.Options{}
			},
			want: cli.ExitError, wantErr: []string{"regenerate the protobuf code from the merged .proto"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, o := tt.setup(t)
			o.Dir = dir
			before, beforeFiles := treetest.Snapshot(t, filepath.Dir(dir)), treetest.Read(t, dir)
			_, stderr, code := runUpdate(t, o)
			if code != tt.want {
				t.Errorf("exit %d, want %d\n%s", code, tt.want, stderr)
			}
			for _, w := range tt.wantErr {
				if !strings.HasPrefix(stderr, "scaffold: ") || !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if treetest.Snapshot(t, filepath.Dir(dir)) != before || !treetest.Equal(beforeFiles, treetest.Read(t, dir)) {
				t.Error("a refused update changed the service")
			}
		})
	}
}

// TestUpdateChangesAnswers renames the service and moves its HTTP port
// through --answers, outside git with --force: cmd/NAME and api/PROTO move
// with the user's edits, and everything else is what scaffold new renders
// for the new answers.
func TestUpdateChangesAnswers(t *testing.T) {
	dir := newService(t, "")
	main := filepath.Join(dir, "cmd", svcName, "main.go")
	treetest.ReplaceOnce(t, main, "package main\n", "package main\n\n// Our notes: billing runs this.\n")
	treetest.AppendTo(t, filepath.Join(dir, "README.md"), "\nBilling owns this service.\n")

	stdout, stderr, code := runUpdate(t, update.Options{Dir: dir, Force: true, Answers: map[string]string{"name": "billing-api", "httpPort": "18080"}})
	if code != cli.ExitOK {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	for _, w := range []string{
		"  renamed      cmd/billing-api/run.go (moved from cmd/" + svcName + "/run.go)\n",
		"  merged       cmd/billing-api/main.go (moved from cmd/" + svcName + "/main.go)\n",
		"  regenerated  api/billingapi/v1/billingapi.pb.go\n",
		"  deleted      api/" + svcProto + "/v1/" + svcProto + ".pb.go",
	} {
		if !strings.Contains(stdout, w) {
			t.Errorf("output lacks %q:\n%s", w, stdout)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "cmd", "billing-api", "main.go")); err != nil || !strings.Contains(string(b), "// Our notes: billing runs this.") {
		t.Errorf("cmd/billing-api/main.go lacks the user's edit: %v", err)
	}
	for _, gone := range []string{"cmd/" + svcName, "cmd/" + svcName + "-load", "api/" + svcProto} {
		if _, err := os.Stat(filepath.Join(dir, gone)); !os.IsNotExist(err) {
			t.Errorf("%s is still there: %v", gone, err)
		}
	}
	fresh := filepath.Join(t.TempDir(), "billing-api")
	if _, stderr, code := runCLI(t, "new", "billing-api", "--module", svcModule, "-o", fresh, "--http-port", "18080",
		"--image", svcName, "--host", svcName+".example.com", "--namespace", svcName); code != cli.ExitOK {
		t.Fatal(stderr)
	}
	want, got := treetest.Read(t, fresh), treetest.Read(t, dir)
	for p, w := range want {
		if p == "README.md" || p == "cmd/billing-api/main.go" {
			continue
		}
		if !bytes.Equal(got[p], w) {
			t.Errorf("%s differs from scaffold new with the new answers:\n%s", p, treetest.FirstDiff(w, got[p]))
		}
	}
	if len(got) != len(want) {
		t.Errorf("the service holds %d files, a fresh one %d", len(got), len(want))
	}
	readme := string(got["README.md"])
	if !strings.Contains(readme, "Billing owns this service.") || !strings.Contains(readme, "# billing-api\n") || !strings.Contains(readme, ":18080") {
		t.Errorf("README.md lacks the user's line or the new answers:\n%s", readme)
	}
	treetest.RunIn(t, dir, "go", "vet", "./...")
}
