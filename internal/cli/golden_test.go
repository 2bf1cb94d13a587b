package cli

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite example-service from the templates")

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
	if *update {
		if err := os.RemoveAll(goldenDir); err != nil {
			t.Fatal(err)
		}
		if err := os.CopyFS(goldenDir, os.DirFS(out)); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote %s", goldenDir)
		return
	}
	want := readTree(t, out)
	got := readTree(t, goldenDir)
	var problems []string
	for _, p := range sortedKeys(want) {
		g, ok := got[p]
		switch {
		case !ok:
			problems = append(problems, "missing: "+p)
		case !bytes.Equal(g, want[p]):
			problems = append(problems, "differs: "+p+"\n"+firstDiff(want[p], g))
		}
	}
	for _, p := range sortedKeys(got) {
		if _, ok := want[p]; !ok {
			problems = append(problems, "not rendered by the templates: "+p)
		}
	}
	if len(problems) > 0 {
		t.Fatalf("example-service has drifted from the templates:\n  %s\n\nEdit templates/, not example-service/, then run `make generate` (or go test ./internal/cli -run TestGolden -update) and commit both.",
			strings.Join(problems, "\n  "))
	}
}

// readTree reads every file under root, skipping build outputs that the
// generated .gitignore ignores.
func readTree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if rel == "bin" || rel == "dist" {
				return filepath.SkipDir
			}
			return nil
		}
		b, err := os.ReadFile(p)
		files[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatalf("read %s: %v", root, err)
	}
	return files
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// firstDiff shows the first line where got departs from want.
func firstDiff(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "    line " + strconv.Itoa(i+1) + ":\n    rendered: " + wl + "\n    committed: " + gl
		}
	}
	return ""
}
