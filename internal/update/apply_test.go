package update

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zerodrop/zerodrop/internal/treetest"
)

// TestApplyChangesIsAllOrNothing makes the last of three writes fail, after
// the first two are staged: the tree must be left exactly as it was.
func TestApplyChangesIsAllOrNothing(t *testing.T) {
	root := t.TempDir()
	treetest.Write(t, filepath.Join(root, "a.txt"), "a")
	treetest.Write(t, filepath.Join(root, "b.txt"), "b")
	treetest.Write(t, filepath.Join(root, "blocker"), "a file where a directory is needed")
	unchanged := keepsTree(t, root)
	err := applyChanges(root, []fileWrite{
		{path: "a.txt", content: []byte("A"), mode: 0o644},
		{path: "new/dir/c.txt", content: []byte("C"), mode: 0o644},
		{path: "blocker/x.txt", content: []byte("X"), mode: 0o644},
	}, []string{"b.txt"})
	if err == nil || !strings.Contains(err.Error(), "blocker/x.txt") {
		t.Fatalf("err = %v, want a failure naming blocker/x.txt", err)
	}
	unchanged("a failed apply")
}

// TestApplyChangesWritesDeletesAndTidies applies writes and deletions, and
// removes the directories that deletions leave empty.
func TestApplyChangesWritesDeletesAndTidies(t *testing.T) {
	root := t.TempDir()
	treetest.Write(t, filepath.Join(root, "a.txt"), "a")
	treetest.Write(t, filepath.Join(root, "b.txt"), "b")
	treetest.Write(t, filepath.Join(root, "old/deep/d.txt"), "d")
	treetest.Write(t, filepath.Join(root, "old/keep.txt"), "k")
	err := applyChanges(root, []fileWrite{
		{path: "a.txt", content: []byte("A"), mode: 0o644},
		{path: "new/dir/run.sh", content: []byte("#!/bin/sh\n"), mode: 0o755},
	}, []string{"b.txt", "old/deep/d.txt"})
	if err != nil {
		t.Fatal(err)
	}
	got := treetest.Read(t, root)
	want := map[string]string{"a.txt": "A", "new/dir/run.sh": "#!/bin/sh\n", "old/keep.txt": "k"}
	if len(got) != len(want) {
		t.Errorf("tree holds %v, want %v", treetest.Paths(got), want)
	}
	for p, c := range want {
		if string(got[p]) != c {
			t.Errorf("%s = %q, want %q", p, got[p], c)
		}
	}
	if fi, err := os.Stat(filepath.Join(root, "new/dir/run.sh")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("run.sh mode: %v %v", fi.Mode(), err)
	}
	if _, err := os.Stat(filepath.Join(root, "old/deep")); !os.IsNotExist(err) {
		t.Errorf("old/deep, left empty, is still there: %v", err)
	}
}

// TestMerge3 checks the merge engine on a clean merge and a conflict.
func TestMerge3(t *testing.T) {
	l := mergeLabels{ours: "yours", base: "base", theirs: "template"}
	base := []byte("one\ntwo\nthree\nfour\nfive\n")
	merged, conflict, err := merge3(context.Background(), base, []byte("ONE\ntwo\nthree\nfour\nfive\n"), []byte("one\ntwo\nthree\nfour\nFIVE\n"), l)
	if err != nil || conflict || string(merged) != "ONE\ntwo\nthree\nfour\nFIVE\n" {
		t.Errorf("clean merge = %q, conflict %v, err %v", merged, conflict, err)
	}
	merged, conflict, err = merge3(context.Background(), base, []byte("uno\ntwo\nthree\nfour\nfive\n"), []byte("eins\ntwo\nthree\nfour\nfive\n"), l)
	want := "<<<<<<< yours\nuno\n=======\neins\n>>>>>>> template\ntwo\n"
	if err != nil || !conflict || !strings.HasPrefix(string(merged), want) {
		t.Errorf("conflict = %q, conflict %v, err %v; want it to start %q", merged, conflict, err, want)
	}
}

// TestApplyChangesRestoresWhenARenameFails fails the last rename, after the
// first ones have replaced their targets: every file replaced or created so
// far must be put back as it was, mode included, and no temporary file or
// new directory left behind.
func TestApplyChangesRestoresWhenARenameFails(t *testing.T) {
	root := t.TempDir()
	treetest.Write(t, filepath.Join(root, "a.txt"), "a")
	if err := os.Chmod(filepath.Join(root, "a.txt"), 0o600); err != nil {
		t.Fatal(err)
	}
	treetest.Write(t, filepath.Join(root, "z.txt"), "z")
	immutable(t, filepath.Join(root, "z.txt"))
	unchanged := keepsTree(t, root)
	err := applyChanges(root, []fileWrite{
		{path: "a.txt", content: []byte("A"), mode: 0o644},
		{path: "new/dir/c.txt", content: []byte("C"), mode: 0o644},
		{path: "z.txt", content: []byte("Z"), mode: 0o644},
	}, nil)
	if err == nil || !strings.Contains(err.Error(), "update z.txt") {
		t.Fatalf("err = %v, want the failed rename of z.txt", err)
	}
	unchanged("a failed rename")
}

// TestApplyChangesRestoresWhenADeletionFails fails a deletion, which comes
// after every rename: the renamed files and the files deleted before it must
// be back.
func TestApplyChangesRestoresWhenADeletionFails(t *testing.T) {
	root := t.TempDir()
	treetest.Write(t, filepath.Join(root, "a.txt"), "a")
	treetest.Write(t, filepath.Join(root, "old/b.txt"), "b")
	treetest.Write(t, filepath.Join(root, "y.txt"), "y")
	immutable(t, filepath.Join(root, "y.txt"))
	unchanged := keepsTree(t, root)
	err := applyChanges(root, []fileWrite{
		{path: "a.txt", content: []byte("A"), mode: 0o644},
		{path: "new.txt", content: []byte("N"), mode: 0o644},
	}, []string{"old/b.txt", "y.txt"})
	if err == nil || !strings.Contains(err.Error(), "delete y.txt") {
		t.Fatalf("err = %v, want the failed deletion of y.txt", err)
	}
	unchanged("a failed deletion")
}

// immutable sets the file's immutable attribute until the test ends, so that
// the kernel refuses to replace or remove it. That is a real failure of
// rename(2) and unlink(2) part way through an apply, which no permission bit
// gives root. It needs root (CAP_LINUX_IMMUTABLE) and a file system with
// attributes, as CI has; elsewhere the test is skipped.
func immutable(t *testing.T, path string) {
	t.Helper()
	if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
		t.Skipf("cannot make %s immutable (needs root, chattr and ext4 or the like): %v: %s", path, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("chattr", "-i", path).CombinedOutput(); err != nil {
			t.Errorf("chattr -i %s: %v: %s", path, err, out)
		}
	})
}

// keepsTree records root's paths, modes and contents now, and returns a
// check that they are all the same later.
func keepsTree(t *testing.T, root string) func(after string) {
	t.Helper()
	before, beforeFiles := treetest.Snapshot(t, root), treetest.Read(t, root)
	return func(after string) {
		t.Helper()
		if now := treetest.Snapshot(t, root); now != before || !treetest.Equal(beforeFiles, treetest.Read(t, root)) {
			t.Errorf("%s changed the tree:\nbefore: %s\nafter:  %s", after, before, now)
		}
	}
}
