package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zerodrop/zerodrop/internal/render"
	"github.com/zerodrop/zerodrop/internal/treetest"
)

// TestRecipesKeepEveryProof follows the generated README's "Start here"
// recipes, as a team that makes two services its own would:
//
//   - core adds an RPC to the example API (Echo), with its test;
//   - edge replaces the example API with its own, Catalog: unary calls of
//     other shapes (a nested message, an IDEMPOTENT call, one with side
//     effects) and a server stream;
//   - edge adds a setting, --core-target, and calls core through core's
//     generated client, closed in cleanup.
//
// edge then passes its whole suite under -race, with exactly as many
// runtime proof tests as a service fresh from the template, since they
// drive the drill and not the API; and a real edge process answers over
// HTTP with what a real core process said.
func TestRecipesKeepEveryProof(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two services and runs one's whole suite")
	}
	root := t.TempDir()
	core, edge := filepath.Join(root, "core"), filepath.Join(root, "edge")
	for _, dir := range []string{core, edge} {
		name := filepath.Base(dir)
		if _, stderr, code := runCLI(t, "new", name, "--module", "example.com/"+name, "-o", dir); code != ExitOK {
			t.Fatalf("scaffold new %s: exit %d: %s", name, code, stderr)
		}
	}
	// The proofs of a service fresh from the template, all but the example's.
	want := listTests(t, edge)
	delete(want, "example.com/edge/internal/greeter")
	if n := countTests(want); n < 40 {
		t.Fatalf("a fresh service lists %d runtime tests; the listing is broken", n)
	}

	// Recipe "Add an RPC", on core.
	at := func(dir, p string) string { return filepath.Join(dir, filepath.FromSlash(p)) }
	treetest.ReplaceOnce(t, at(core, "api/core/v1/core.proto"), "  // GetVersion reports the version this replica serves.\n", `  // Echo says text back, and which replica heard it.
  rpc Echo(EchoRequest) returns (EchoResponse) {
    option idempotency_level = NO_SIDE_EFFECTS;
  }

  // GetVersion reports the version this replica serves.
`)
	treetest.AppendTo(t, at(core, "api/core/v1/core.proto"), "\nmessage EchoRequest {\n  string text = 1;\n}\n\nmessage EchoResponse {\n  string text = 1;\n  string hostname = 2;\n}\n")
	treetest.AppendTo(t, at(core, "internal/greeter/greeter.go"), `
// Echo implements Greeter.Echo.
func (g *Greeter) Echo(_ context.Context, req *corev1.EchoRequest) (*corev1.EchoResponse, error) {
	return &corev1.EchoResponse{Text: req.GetText(), Hostname: g.hostname}, nil
}
`)
	treetest.AppendTo(t, at(core, "internal/greeter/greeter_test.go"), `
func TestEcho(t *testing.T) {
	resp, err := New(info, "pod-a", "Hello").Echo(context.Background(), &corev1.EchoRequest{Text: "hi"})
	if err != nil || resp.GetText() != "hi" || resp.GetHostname() != "pod-a" {
		t.Errorf("Echo = %v, %v", resp, err)
	}
}
`)
	generateProtos(t, core)
	runGo(t, core, "test", "-count=1", "./internal/greeter/")

	// Recipe "Replace the example API", on edge.
	for _, p := range []string{"api/edge/v1", "internal/greeter", "client/greeter.go"} {
		if err := os.RemoveAll(at(edge, p)); err != nil {
			t.Fatal(err)
		}
	}
	treetest.Write(t, at(edge, "api/edge/v1/edge.proto"), catalogProto)
	treetest.Write(t, at(edge, "internal/catalog/catalog.go"), catalogGo)
	treetest.Write(t, at(edge, "internal/catalog/catalog_test.go"), catalogTest)
	treetest.Write(t, at(edge, "client/catalog.go"), "package client\n\nimport edgev1 \"example.com/edge/api/edge/v1\"\n\n// Catalog is edge's API through c.\nfunc (c *Client) Catalog() edgev1.CatalogClient { return edgev1.NewCatalogClient(c.conn) }\n")
	// Recipes "Add a setting" and "Call another generated service": the
	// whole of edge's api.go.
	treetest.Write(t, at(edge, "cmd/edge/api.go"), edgeAPI)
	generateProtos(t, edge)
	runGo(t, edge, "mod", "edit", "-require=example.com/core@v0.0.0", "-replace=example.com/core=../core")
	runGo(t, edge, "mod", "tidy")
	runGo(t, edge, "vet", "./...")

	cmd := exec.Command("go", "test", "-race", "-count=1", "-json", "./...")
	cmd.Dir = edge
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	events := readTestEvents(t, bytes.NewReader(out))
	got := map[string]map[string]bool{}
	for _, k := range events.keys() {
		pkg, test, _ := strings.Cut(k, " ")
		if r := events.byTest[k]; strings.Contains(test, "/") || r.fail > 0 || r.pass == 0 {
			if r.fail > 0 {
				t.Errorf("%s failed after the recipes:\n%s", k, r.failOutput)
			}
			continue
		}
		if got[pkg] == nil {
			got[pkg] = map[string]bool{}
		}
		got[pkg][test] = true
	}
	if runErr != nil && !t.Failed() {
		t.Fatalf("go test in edge: %v\n%s\n%s", runErr, stderr.Bytes(), events.failedPackages)
	}
	if len(got["example.com/edge/internal/catalog"]) == 0 {
		t.Error("edge's own API's tests did not run")
	}
	delete(got, "example.com/edge/internal/catalog")
	for pkg, tests := range want {
		for test := range tests {
			if !got[pkg][test] {
				t.Errorf("proof %s %s did not pass in edge", pkg, test)
			}
		}
	}
	t.Logf("edge passed %d runtime proofs under -race (a fresh service has %d), and its own API's tests", countTests(got), countTests(want))
	if countTests(got) != countTests(want) {
		t.Errorf("edge ran %d runtime proofs, a fresh service has %d", countTests(got), countTests(want))
	}

	// A real edge answers with what a real core said.
	coreBin, edgeBin := filepath.Join(root, "core-bin"), filepath.Join(root, "edge-bin")
	runGo(t, core, "build", "-o", coreBin, "./cmd/core")
	runGo(t, edge, "build", "-o", edgeBin, "./cmd/edge")
	coreAddrs := startService(t, coreBin)
	edgeAddrs := startService(t, edgeBin, "-core-target=passthrough:///"+coreAddrs.GRPC)
	resp, err := http.Get("http://" + edgeAddrs.HTTP + "/items/apple")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"echo":"apple"`) || !strings.Contains(string(body), `"coreHost":"`) {
		t.Errorf("edge GET /items/apple = %d %s, want core's echo of apple", resp.StatusCode, body)
	}
}

// catalogProto is edge's own API: another service name, unary calls of
// other shapes, and a server stream.
const catalogProto = `syntax = "proto3";

package edge.v1;

option go_package = "example.com/edge/api/edge/v1;edgev1";

// Catalog keeps items, and asks core to echo each lookup.
service Catalog {
  rpc Lookup(LookupRequest) returns (LookupResponse) {
    option idempotency_level = NO_SIDE_EFFECTS;
  }
  rpc Put(PutRequest) returns (PutResponse) {
    option idempotency_level = IDEMPOTENT;
  }
  rpc Bump(BumpRequest) returns (BumpResponse);
  rpc Tail(TailRequest) returns (stream Item) {
    option idempotency_level = NO_SIDE_EFFECTS;
  }
}

message Item {
  string id = 1;
  int64 price_cents = 2;
  repeated string tags = 3;
}

message LookupRequest { string id = 1; }
message LookupResponse {
  Item item = 1;
  string echo = 2;
  string core_host = 3;
}
message PutRequest { Item item = 1; }
message PutResponse { int64 revision = 1; }
message BumpRequest {}
message BumpResponse { int64 revision = 1; }
message TailRequest { uint32 count = 1; }
`

// catalogTest is the Catalog's own test.
const catalogTest = `package catalog

import (
	"context"
	"testing"

	edgev1 "example.com/edge/api/edge/v1"
)

func TestPutAndBump(t *testing.T) {
	c := New(nil, nil)
	put, err := c.Put(context.Background(), &edgev1.PutRequest{Item: &edgev1.Item{Id: "apple", PriceCents: 120}})
	if err != nil || put.GetRevision() != 1 {
		t.Fatalf("Put = %v, %v", put, err)
	}
	bump, err := c.Bump(context.Background(), &edgev1.BumpRequest{})
	if err != nil || bump.GetRevision() != 2 {
		t.Fatalf("Bump = %v, %v", bump, err)
	}
}
`

// catalogGo implements Catalog.
const catalogGo = `// Package catalog is edge's API.
package catalog

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	corev1 "example.com/core/api/core/v1"
	edgev1 "example.com/edge/api/edge/v1"
	"example.com/edge/internal/httpserver"
)

// Catalog implements edge.v1.Catalog.
type Catalog struct {
	edgev1.UnimplementedCatalogServer
	core     corev1.GreeterClient
	stopping <-chan struct{}

	mu       sync.Mutex
	items    map[string]*edgev1.Item
	revision int64
}

// New returns the Catalog, which asks core to echo each lookup.
func New(core corev1.GreeterClient, stopping <-chan struct{}) *Catalog {
	return &Catalog{core: core, stopping: stopping, items: map[string]*edgev1.Item{}}
}

// Register adds the gRPC service to s.
func (c *Catalog) Register(s grpc.ServiceRegistrar) { edgev1.RegisterCatalogServer(s, c) }

// Routes are the HTTP routes.
func (c *Catalog) Routes() []httpserver.Route {
	return []httpserver.Route{{Pattern: "GET /items/{id}", Name: "item", Handler: http.HandlerFunc(c.item)}}
}

func (c *Catalog) Lookup(ctx context.Context, req *edgev1.LookupRequest) (*edgev1.LookupResponse, error) {
	echo, err := c.core.Echo(ctx, &corev1.EchoRequest{Text: req.GetId()})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	item := c.items[req.GetId()]
	c.mu.Unlock()
	return &edgev1.LookupResponse{Item: item, Echo: echo.GetText(), CoreHost: echo.GetHostname()}, nil
}

func (c *Catalog) Put(_ context.Context, req *edgev1.PutRequest) (*edgev1.PutResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.items[req.GetItem().GetId()] = req.GetItem()
	c.revision++
	return &edgev1.PutResponse{Revision: c.revision}, nil
}

func (c *Catalog) Bump(context.Context, *edgev1.BumpRequest) (*edgev1.BumpResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.revision++
	return &edgev1.BumpResponse{Revision: c.revision}, nil
}

func (c *Catalog) Tail(req *edgev1.TailRequest, stream edgev1.Catalog_TailServer) error {
	for i := range req.GetCount() {
		select {
		case <-c.stopping:
			return status.Error(codes.Unavailable, "draining: resume on another replica")
		default:
		}
		if err := stream.Send(&edgev1.Item{Id: string(rune('a' + i%26))}); err != nil {
			return err
		}
	}
	return nil
}

func (c *Catalog) item(w http.ResponseWriter, r *http.Request) {
	resp, err := c.Lookup(r.Context(), &edgev1.LookupRequest{Id: r.PathValue("id")})
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"echo": resp.GetEcho(), "coreHost": resp.GetCoreHost()})
}
`

// edgeAPI is edge's cmd/edge/api.go after the recipes.
const edgeAPI = `package main

import (
	"context"
	"flag"
	"fmt"

	"google.golang.org/grpc"

	coreclient "example.com/core/client"
	"example.com/edge/internal/catalog"
	"example.com/edge/internal/lifecycle"
)

// settings are the API's own settings.
type settings struct {
	apiEnv

	// CoreTarget is where core is.
	CoreTarget string
}

// register declares the settings on fs.
func (s *settings) register(fs *flag.FlagSet) {
	fs.StringVar(&s.CoreTarget, "core-target", coreclient.DefaultTarget, "gRPC ` + "`target`" + ` of core")
}

// newAPI builds the API from its settings.
func newAPI(ctx context.Context, s settings) (service, error) {
	core, err := coreclient.New(ctx, s.CoreTarget)
	if err != nil {
		return service{}, fmt.Errorf("--core-target: %w", err)
	}
	cat := catalog.New(core.Greeter(), s.Stopping)
	return service{
		GRPC:    []func(grpc.ServiceRegistrar){cat.Register},
		HTTP:    cat.Routes(),
		Cleanup: []lifecycle.Cleanup{{Name: "core client", Run: func(context.Context) error { return core.Close() }}},
	}, nil
}
`

// listTests lists the top-level tests of every package of the module at
// dir, without running them.
func listTests(t *testing.T, dir string) map[string]map[string]bool {
	t.Helper()
	cmd := exec.Command("go", "test", "-list", ".", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go test -list in %s: %v\n%s", dir, err, out)
	}
	tests := map[string]map[string]bool{}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "Test"):
			names = append(names, line)
		case strings.HasPrefix(line, "ok "):
			pkg := strings.Fields(line)[1]
			tests[pkg] = map[string]bool{}
			for _, n := range names {
				tests[pkg][n] = true
			}
			names = nil
		}
	}
	return tests
}

func countTests(tests map[string]map[string]bool) int {
	n := 0
	for _, ts := range tests {
		n += len(ts)
	}
	return n
}

// generateProtos runs the service's pinned protobuf generators on every
// .proto under api/, as its make generate does, and writes the code.
func generateProtos(t *testing.T, dir string) {
	t.Helper()
	var inputs []render.File
	for _, p := range []string{"tools/go.mod", "tools/go.sum", "tools/protogen/main.go"} {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, render.File{Path: p, Content: b})
	}
	err := filepath.WalkDir(filepath.Join(dir, "api"), func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || filepath.Ext(p) != ".proto" {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		inputs = append(inputs, render.File{Path: filepath.ToSlash(rel), Content: b})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := render.GenerateProto(context.Background(), inputs)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range out {
		treetest.Write(t, filepath.Join(dir, filepath.FromSlash(f.Path)), string(f.Content))
	}
}

func runGo(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), filepath.Base(dir), err, out)
	}
}

// boundAddrs are what a service writes to --addr-file.
type boundAddrs struct{ HTTP, GRPC, Health string }

// startService runs a service binary on loopback ports of its own choosing
// and returns them once it listens; the test's cleanup stops it with
// SIGTERM and expects exit 0.
func startService(t *testing.T, bin string, args ...string) boundAddrs {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(bin, append([]string{"-http-addr=127.0.0.1:0", "-grpc-addr=127.0.0.1:0", "-health-addr=127.0.0.1:0",
		"-addr-file=/dev/fd/3", "-shutdown-delay=0", "-termination-log="}, args...)...)
	var logs bytes.Buffer
	cmd.Stderr = &logs
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s exited with %v:\n%s", filepath.Base(bin), err, logs.String())
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("%s did not exit within 30 s of SIGTERM", filepath.Base(bin))
		}
	})
	line, err := bufio.NewReader(r).ReadBytes('\n')
	var a boundAddrs
	if err != nil && len(line) == 0 || json.Unmarshal(line, &a) != nil {
		t.Fatalf("%s did not report its addresses (%v):\n%s", filepath.Base(bin), err, logs.String())
	}
	return a
}
