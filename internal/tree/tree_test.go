package tree

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zerodrop/zerodrop/internal/render"
)

// TestHashNamesContent checks that a tree hashes the same embedded and
// copied to disk, and differently after a one-byte change or a rename.
func TestHashNamesContent(t *testing.T) {
	builtin, err := Hash(render.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(builtin, HashPrefix) || len(builtin) != len(HashPrefix)+64 {
		t.Fatalf("hash %q is not %s<64 hex digits>", builtin, HashPrefix)
	}
	dir := t.TempDir()
	if err := os.CopyFS(dir, render.Builtin()); err != nil {
		t.Fatal(err)
	}
	if got, err := Hash(os.DirFS(dir)); err != nil || got != builtin {
		t.Fatalf("the tree copied to disk hashes to %s (%v), embedded to %s", got, err, builtin)
	}
	readme := filepath.Join(dir, "README.md.tmpl")
	b, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(readme, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	changed, err := Hash(os.DirFS(dir))
	if err != nil || changed == builtin {
		t.Errorf("a changed file leaves the hash at %s (%v)", changed, err)
	}
	if err := os.Rename(readme, filepath.Join(dir, "README.markdown.tmpl")); err != nil {
		t.Fatal(err)
	}
	if renamed, err := Hash(os.DirFS(dir)); err != nil || renamed == changed {
		t.Errorf("a renamed file leaves the hash at %s (%v)", renamed, err)
	}
}

// TestCacheRoundTrip stores a tree, reads it back by hash, and refuses a
// cached tree whose content no longer matches its name.
func TestCacheRoundTrip(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	hash, err := Hash(render.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Cached(hash); !errors.Is(err, ErrNotCached) {
		t.Fatalf("empty cache: err = %v, want ErrNotCached", err)
	}
	for range 2 { // the second store finds the tree there
		if err := Cache(render.Builtin(), hash); err != nil {
			t.Fatal(err)
		}
	}
	cached, err := Cached(hash)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := Hash(cached.FS); got != hash {
		t.Errorf("cached tree hashes to %s, want %s", got, hash)
	}
	cache, _ := CacheDir()
	entries, _ := os.ReadDir(cache)
	if len(entries) != 1 {
		t.Errorf("cache holds %d entries, want one tree and no staging leftovers", len(entries))
	}
	if err := os.WriteFile(filepath.Join(cache, strings.TrimPrefix(hash, HashPrefix), "Makefile.tmpl"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Cached(hash); err == nil || !strings.Contains(err.Error(), "was changed after it was stored") {
		t.Errorf("a tampered cached tree: err = %v", err)
	}
	if _, err := Cached("sha256:nothex"); err == nil {
		t.Error("a malformed hash was accepted")
	}
}
