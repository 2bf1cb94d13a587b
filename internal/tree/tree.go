// Package tree finds scaffold's template trees, wherever they come from
// (built into the binary, a directory, a zerodrop git revision, the template
// cache), and names each by the hash of its content.
package tree

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/zerodrop/zerodrop/internal/render"
)

// cacheDirMode is the mode of the cache's directories.
const cacheDirMode = 0o755

// Tree is a template tree, the hash that names it, and where it came from,
// for messages.
type Tree struct {
	FS     fs.FS
	Hash   string
	Origin string
}

// Builtin is the tree embedded in this binary.
func Builtin() (Tree, error) {
	fsys := render.Builtin()
	hash, err := Hash(fsys)
	if err != nil {
		return Tree{}, err
	}
	return Tree{FS: fsys, Hash: hash, Origin: "the templates built into scaffold " + render.Version}, nil
}

// Dir is a template tree in a directory, such as a zerodrop checkout's
// templates/service.
func Dir(dir string) (Tree, error) {
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return Tree{}, render.Input(fmt.Errorf("--from %s is not a directory: give a template tree such as a zerodrop checkout's templates/service", dir))
	}
	if _, err := os.Stat(filepath.Join(dir, render.RecordFile+".tmpl")); err != nil {
		return Tree{}, render.Input(fmt.Errorf("--from %s has no %s.tmpl, so it is not a scaffold template tree: give a zerodrop checkout's templates/service", dir, render.RecordFile))
	}
	fsys := os.DirFS(dir)
	hash, err := Hash(fsys)
	if err != nil {
		return Tree{}, fmt.Errorf("--from %s: %w", dir, err)
	}
	return Tree{FS: fsys, Hash: hash, Origin: dir}, nil
}

// gitTreePath is where a zerodrop repository keeps the template tree.
const gitTreePath = "templates/service"

// Git extracts the template tree of revision rev from the zerodrop
// repository at repo with git archive, into scratch, a directory the caller
// owns and removes. It is how a service generated before the template cache
// existed finds its templates: the commit it was generated with is enough.
func Git(ctx context.Context, repo, rev, scratch string) (Tree, error) {
	cmd := exec.CommandContext(ctx, "git", "-C", repo, "archive", "--format=tar", rev, gitTreePath)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return Tree{}, render.Input(fmt.Errorf("--from-git %s: git archive in %s failed (%v): %s\n--from-git reads a zerodrop clone: pass --repo PATH-TO-ZERODROP, and a commit or tag that it holds",
			rev, repo, err, strings.TrimSpace(stderr.String())))
	}
	tr := tar.NewReader(&stdout)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Tree{}, fmt.Errorf("--from-git %s: read git archive: %w", rev, err)
		}
		rel, ok := strings.CutPrefix(path.Clean(h.Name), gitTreePath+"/")
		if !ok || h.Typeflag != tar.TypeReg {
			continue
		}
		if !fs.ValidPath(rel) {
			return Tree{}, fmt.Errorf("--from-git %s: archive holds an unsafe path %q", rev, h.Name)
		}
		p := filepath.Join(scratch, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return Tree{}, fmt.Errorf("--from-git %s: %w", rev, err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return Tree{}, fmt.Errorf("--from-git %s: read git archive: %w", rev, err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return Tree{}, fmt.Errorf("--from-git %s: %w", rev, err)
		}
	}
	t, err := Dir(scratch)
	if err != nil {
		return Tree{}, fmt.Errorf("--from-git %s: %s at that revision is not a template tree: %w", rev, gitTreePath, err)
	}
	t.Origin = gitTreePath + " at " + rev + " in " + repo
	return t, nil
}

// Remember stores t in the template cache, so that a later scaffold update
// can render it again offline. A failure costs only that convenience, so it
// is reported and does not fail the command.
func (t Tree) Remember(stderr io.Writer) {
	if err := Cache(t.FS, t.Hash); err != nil {
		fmt.Fprintf(stderr, "scaffold: warning: the template tree was not cached, so a later scaffold update will need --from or --from-git: %v\n", err)
	}
}

// Template trees are named by content, not by release: a release number says
// nothing about a tree rendered from a branch or a local checkout, and two
// builds of one release must agree on what they carry. Hash is that name,
// and the template cache keeps every tree under it, so that scaffold update
// can render whatever tree a service was generated from without a network.

// HashPrefix starts every tree hash, so that the algorithm can change
// without one hash being mistaken for another.
const HashPrefix = "sha256:"

// cacheSubdir is where, under the user cache directory, trees are kept.
const cacheSubdir = "zerodrop/templates"

// TreeHash names a template tree by its content: the SHA-256 of every file's
// slash path and bytes, in path order. Directories, modes and times do not
// count, so a tree hashes the same embedded, checked out, extracted from git
// or copied into the cache.
func Hash(fsys fs.FS) (string, error) {
	var paths []string
	err := fs.WalkDir(fsys, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.Type().IsRegular() {
			paths = append(paths, p)
		} else if !e.IsDir() {
			return fmt.Errorf("template tree: %s is not a regular file or directory", p)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash template tree: %w", err)
	}
	if len(paths) == 0 {
		return "", errors.New("hash template tree: it holds no files")
	}
	sort.Strings(paths)
	h := sha256.New()
	for _, p := range paths {
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return "", fmt.Errorf("hash template tree: %w", err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(b))
		h.Write(b)
	}
	return HashPrefix + hex.EncodeToString(h.Sum(nil)), nil
}

// CacheDir is the directory that holds cached template trees, one
// subdirectory per hash.
func CacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find the user cache directory for template trees: %w", err)
	}
	return filepath.Join(base, filepath.FromSlash(cacheSubdir)), nil
}

// cachedDir is where the tree with this hash lives in the cache.
func cachedDir(hash string) (string, error) {
	hexHash, ok := strings.CutPrefix(hash, HashPrefix)
	if !ok || len(hexHash) != sha256.Size*2 || strings.Trim(hexHash, "0123456789abcdef") != "" {
		return "", render.Input(fmt.Errorf("template hash %q is not of the form %s<64 hex digits>", hash, HashPrefix))
	}
	dir, err := CacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, hexHash), nil
}

// Cache keeps a copy of fsys in the template cache under hash, which the
// caller has computed with Hash. A tree already there is left alone. The
// copy is staged and renamed into place, so the cache never holds half a tree.
func Cache(fsys fs.FS, hash string) error {
	dir, err := cachedDir(hash)
	if err != nil {
		return err
	}
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), cacheDirMode); err != nil {
		return fmt.Errorf("create the template cache: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), filepath.Base(dir)+".stage-")
	if err != nil {
		return fmt.Errorf("create the template cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.CopyFS(tmp, fsys); err != nil {
		return fmt.Errorf("copy template tree into the cache: %w", err)
	}
	if got, err := Hash(os.DirFS(tmp)); err != nil || got != hash {
		return fmt.Errorf("copy template tree into the cache: the copy hashes to %s, not %s (%v)", got, hash, err)
	}
	// Another scaffold may have stored the same tree meanwhile; it is the
	// same content, so either copy will do.
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(dir); statErr != nil {
			return fmt.Errorf("store template tree in %s: %w", dir, err)
		}
	}
	return nil
}

// ErrNotCached is returned by Cached for a tree the cache lacks.
var ErrNotCached = errors.New("template tree not in the cache")

// cachedFS returns the cached tree with this hash, after checking that its
// content still hashes to it.
func cachedFS(hash string) (fs.FS, error) {
	dir, err := cachedDir(hash)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no %s", ErrNotCached, dir)
	}
	fsys := os.DirFS(dir)
	got, err := Hash(fsys)
	if err != nil {
		return nil, fmt.Errorf("cached template tree %s: %w", dir, err)
	}
	if got != hash {
		return nil, fmt.Errorf("cached template tree %s hashes to %s, not %s: it was changed after it was stored; remove it and pass --from or --from-git", dir, got, hash)
	}
	return fsys, nil
}

// Cached is the cached tree with this hash, after checking that its content
// still hashes to it.
func Cached(hash string) (Tree, error) {
	fsys, err := cachedFS(hash)
	if err != nil {
		return Tree{}, err
	}
	return Tree{FS: fsys, Hash: hash, Origin: "the template cache"}, nil
}

// Short abbreviates a tree hash for messages and conflict markers.
func Short(h string) string {
	if len(h) > len(HashPrefix)+12 {
		return h[:len(HashPrefix)+12]
	}
	return h
}
