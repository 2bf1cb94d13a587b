package render

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTreeHashNamesContent checks that a tree hashes the same embedded and
// copied to disk, and differently after a one-byte change or a rename.
func TestTreeHashNamesContent(t *testing.T) {
	builtin, err := TreeHash(Builtin())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(builtin, TreeHashPrefix) || len(builtin) != len(TreeHashPrefix)+64 {
		t.Fatalf("hash %q is not %s<64 hex digits>", builtin, TreeHashPrefix)
	}
	dir := t.TempDir()
	if err := os.CopyFS(dir, Builtin()); err != nil {
		t.Fatal(err)
	}
	if got, err := TreeHash(os.DirFS(dir)); err != nil || got != builtin {
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
	changed, err := TreeHash(os.DirFS(dir))
	if err != nil || changed == builtin {
		t.Errorf("a changed file leaves the hash at %s (%v)", changed, err)
	}
	if err := os.Rename(readme, filepath.Join(dir, "README.markdown.tmpl")); err != nil {
		t.Fatal(err)
	}
	if renamed, err := TreeHash(os.DirFS(dir)); err != nil || renamed == changed {
		t.Errorf("a renamed file leaves the hash at %s (%v)", renamed, err)
	}
}

// TestTreeCacheRoundTrip stores a tree, reads it back by hash, and refuses a
// cached tree whose content no longer matches its name.
func TestTreeCacheRoundTrip(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	hash, err := TreeHash(Builtin())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CachedTree(hash); !errors.Is(err, ErrTreeNotCached) {
		t.Fatalf("empty cache: err = %v, want ErrTreeNotCached", err)
	}
	for range 2 { // the second store finds the tree there
		if err := CacheTree(Builtin(), hash); err != nil {
			t.Fatal(err)
		}
	}
	fsys, err := CachedTree(hash)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := TreeHash(fsys); got != hash {
		t.Errorf("cached tree hashes to %s, want %s", got, hash)
	}
	cache, _ := TreeCacheDir()
	entries, _ := os.ReadDir(cache)
	if len(entries) != 1 {
		t.Errorf("cache holds %d entries, want one tree and no staging leftovers", len(entries))
	}
	if err := os.WriteFile(filepath.Join(cache, strings.TrimPrefix(hash, TreeHashPrefix), "Makefile.tmpl"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := CachedTree(hash); err == nil || !strings.Contains(err.Error(), "was changed after it was stored") {
		t.Errorf("a tampered cached tree: err = %v", err)
	}
	if _, err := CachedTree("sha256:nothex"); err == nil {
		t.Error("a malformed hash was accepted")
	}
}

// TestRecordRoundTrip reads back the .scaffold.yaml that the templates
// render, and rejects records it cannot trust.
func TestRecordRoundTrip(t *testing.T) {
	d := validData("no", "example.com/no") // "no" is a YAML 1.1 boolean
	d.HTTPPort, d.TemplateHash = 18080, "sha256:"+strings.Repeat("ab", 32)
	files, err := Render(d)
	if err != nil {
		t.Fatal(err)
	}
	var rec []byte
	for _, f := range files {
		if f.Path == RecordFile {
			rec = f.Content
		}
	}
	got, err := ReadRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	if got != d {
		t.Errorf("ReadRecord(render(d)) = %+v, want %+v", got, d)
	}
	for _, tt := range []struct{ record, wantErr string }{
		{"scaffoldVersion: 0.1.0\nname: a\nmodule: x.org/a\ncolour: blue\n", `unknown answer "colour"`},
		{"scaffoldVersion: 0.1.0\nname: a\nmodule: x.org/a\nhttpPort: web\n", `httpPort "web" is not a port number`},
		{"scaffoldVersion: 0.1.0\nname: a\nname: b\nmodule: x.org/a\n", "repeats name"},
		{"name: a\nmodule: x.org/a\n", "lacks scaffoldVersion"},
		{"just words\n", `is not "key: value"`},
	} {
		if _, err := ReadRecord([]byte(tt.record)); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ReadRecord(%q) = %v, want an error containing %q", tt.record, err, tt.wantErr)
		}
	}
}
