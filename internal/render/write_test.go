package render

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteRemovesTheParentsItCreated: a write into missing parents that
// fails part way leaves nothing behind, the parents included, and keeps a
// parent that existed.
func TestWriteRemovesTheParentsItCreated(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "mine"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "mine", "x", "y", "svc")
	// A file that the next one needs as a directory: the write fails after
	// the parents and the staging directory exist.
	files := []File{
		{Path: "a", Content: []byte("1"), Mode: 0o644},
		{Path: "a/b", Content: []byte("2"), Mode: 0o644},
	}
	if err := Write(context.Background(), Data{Name: "svc"}, files, dir); err == nil {
		t.Fatal("Write succeeded; the test needs it to fail")
	}
	entries, err := os.ReadDir(filepath.Join(root, "mine"))
	if err != nil {
		t.Fatalf("the parent that existed is gone: %v", err)
	}
	if len(entries) != 0 {
		t.Errorf("the failed write left %v in %s", entries, filepath.Join(root, "mine"))
	}
}
