package render

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/zerodrop/zerodrop/templates"
)

// Template trees are named by content, not by release: a release number says
// nothing about a tree rendered from a branch or a local checkout, and two
// builds of one release must agree on what they carry. TreeHash is that name,
// and the template cache keeps every tree under it, so that scaffold update
// can render whatever tree a service was generated from without a network.

// TreeHashPrefix starts every tree hash, so that the algorithm can change
// without one hash being mistaken for another.
const TreeHashPrefix = "sha256:"

// treeCacheSubdir is where, under the user cache directory, trees are kept.
const treeCacheSubdir = "zerodrop/templates"

// Builtin is the template tree embedded in this binary, rooted at the
// service's root.
func Builtin() fs.FS {
	sub, err := fs.Sub(templates.FS, templates.Root)
	if err != nil {
		panic("templates: " + err.Error()) // a constant root inside an embedded FS
	}
	return sub
}

// TreeHash names a template tree by its content: the SHA-256 of every file's
// slash path and bytes, in path order. Directories, modes and times do not
// count, so a tree hashes the same embedded, checked out, extracted from git
// or copied into the cache.
func TreeHash(fsys fs.FS) (string, error) {
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
	return TreeHashPrefix + hex.EncodeToString(h.Sum(nil)), nil
}

// TreeCacheDir is the directory that holds cached template trees, one
// subdirectory per hash.
func TreeCacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find the user cache directory for template trees: %w", err)
	}
	return filepath.Join(base, filepath.FromSlash(treeCacheSubdir)), nil
}

// cachedTreeDir is where the tree with this hash lives in the cache.
func cachedTreeDir(hash string) (string, error) {
	hexHash, ok := strings.CutPrefix(hash, TreeHashPrefix)
	if !ok || len(hexHash) != sha256.Size*2 || strings.Trim(hexHash, "0123456789abcdef") != "" {
		return "", inputErrorf("template hash %q is not of the form %s<64 hex digits>", hash, TreeHashPrefix)
	}
	dir, err := TreeCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, hexHash), nil
}

// CacheTree keeps a copy of fsys in the template cache under hash, which the
// caller has computed with TreeHash. A tree already there is left alone. The
// copy is staged and renamed into place, so the cache never holds half a tree.
func CacheTree(fsys fs.FS, hash string) error {
	dir, err := cachedTreeDir(hash)
	if err != nil {
		return err
	}
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), dirMode); err != nil {
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
	if got, err := TreeHash(os.DirFS(tmp)); err != nil || got != hash {
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

// ErrTreeNotCached is returned by CachedTree for a tree the cache lacks.
var ErrTreeNotCached = errors.New("template tree not in the cache")

// CachedTree returns the cached tree with this hash, after checking that its
// content still hashes to it.
func CachedTree(hash string) (fs.FS, error) {
	dir, err := cachedTreeDir(hash)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no %s", ErrTreeNotCached, dir)
	}
	fsys := os.DirFS(dir)
	got, err := TreeHash(fsys)
	if err != nil {
		return nil, fmt.Errorf("cached template tree %s: %w", dir, err)
	}
	if got != hash {
		return nil, fmt.Errorf("cached template tree %s hashes to %s, not %s: it was changed after it was stored; remove it and pass --from or --from-git", dir, got, hash)
	}
	return fsys, nil
}
