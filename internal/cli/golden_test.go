package cli

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zerodrop/zerodrop/internal/treetest"
)

var updateGolden = flag.Bool("update", false, "rewrite example-service from the templates")

// goldenDir is the committed golden example, relative to this package.
const goldenDir = "../../example-service"

// TestGoldenExampleService checks that example-service is exactly what
// `scaffold new example-service --module github.com/zerodrop/zerodrop/example-service`
// renders. With -update it rewrites example-service instead.
func TestGoldenExampleService(t *testing.T) {
	out := filepath.Join(t.TempDir(), "example-service")
	stdout, stderr, code := runCLI(t, "new", "example-service", "--module", "github.com/zerodrop/zerodrop/example-service", "-o", out)
	if code != ExitOK {
		t.Fatalf("scaffold new failed (exit %d):\n%s%s", code, stdout, stderr)
	}
	if *updateGolden {
		if err := os.RemoveAll(goldenDir); err != nil {
			t.Fatal(err)
		}
		if err := os.CopyFS(goldenDir, os.DirFS(out)); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote %s", goldenDir)
		return
	}
	want := treetest.Read(t, out)
	got := treetest.Read(t, goldenDir)
	var problems []string
	for _, p := range treetest.Paths(want) {
		g, ok := got[p]
		switch {
		case !ok:
			problems = append(problems, "missing: "+p)
		case !bytes.Equal(g, want[p]):
			problems = append(problems, "differs: "+p+"\n"+treetest.FirstDiff(want[p], g))
		}
	}
	for _, p := range treetest.Paths(got) {
		if _, ok := want[p]; !ok {
			problems = append(problems, "not rendered by the templates: "+p)
		}
	}
	if len(problems) > 0 {
		t.Fatalf("example-service has drifted from the templates:\n  %s\n\nEdit templates/, not example-service/, then run `make generate` (or go test ./internal/cli -run TestGolden -update) and commit both.",
			strings.Join(problems, "\n  "))
	}
}
