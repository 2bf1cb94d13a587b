package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zerodrop/zerodrop/internal/render"
)

// The engine's own tests, with real generated services, are in
// internal/update; these check the command around it.

// TestUpdateCommandArgs: the command's own refusals, before the engine runs.
func TestUpdateCommandArgs(t *testing.T) {
	for _, args := range [][]string{{"update", filepath.Join(t.TempDir(), "missing")}, {"update", "a", "b"}, {"update", "--colour"}} {
		if stdout, stderr, code := runCLI(t, args...); code != ExitUsage || stdout != "" || !strings.HasPrefix(stderr, "scaffold: ") {
			t.Errorf("%v: exit %d, want %d\n%s%s", args, code, ExitUsage, stdout, stderr)
		}
	}
}

// TestVersionPrintsTemplateHash checks that scaffold version names the tree
// that scaffold new records.
func TestVersionPrintsTemplateHash(t *testing.T) {
	stdout, _, code := runCLI(t, "version")
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if code != ExitOK || len(lines) != 2 || !strings.HasPrefix(lines[0], "scaffold "+render.Version+" ") {
		t.Fatalf("version: exit %d, %q", code, stdout)
	}
	rec, err := os.ReadFile(filepath.Join(goldenDir, render.RecordFile))
	if err != nil {
		t.Fatal(err)
	}
	hash, ok := strings.CutPrefix(lines[1], "templates ")
	if !ok || !strings.Contains(string(rec), "\ntemplateHash: "+hash+"\n") {
		t.Errorf("version prints %q; example-service records:\n%s", lines[1], rec)
	}
}
