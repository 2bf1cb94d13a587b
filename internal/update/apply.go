package update

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// fileWrite is one file that an update writes, by slash path relative to the
// service root.
type fileWrite struct {
	path    string
	content []byte
	mode    fs.FileMode
}

// original is a file as it was before apply touched it.
type original struct {
	existed bool
	content []byte
	mode    fs.FileMode
}

// applyChanges writes and deletes files under root so that either all of it
// happens or, on any error, the tree is as it was.
//
// Every new content is first written to a temporary file next to its target;
// only when all of them are on disk are they renamed into place, which is
// atomic per file, and the deletions made. Should a rename or a deletion still
// fail, every file already replaced or deleted is put back from the copy read
// at the start. Directories left empty by deletions are removed.
func applyChanges(root string, writes []fileWrite, deletes []string) (err error) {
	originals := map[string]original{}
	for _, p := range append(pathsOf(writes), deletes...) {
		o, err := readOriginal(root, p)
		if err != nil {
			return err
		}
		originals[p] = o
	}

	var created []string // directories made for new files, parents first
	temps := map[string]string{}
	defer func() {
		if err != nil {
			for _, tmp := range temps {
				_ = os.Remove(tmp)
			}
			for i := len(created) - 1; i >= 0; i-- {
				_ = os.Remove(created[i]) // only if still empty
			}
		}
	}()
	for _, w := range writes {
		target := filepath.Join(root, filepath.FromSlash(w.path))
		dirs, err := mkdirAll(filepath.Dir(target))
		created = append(created, dirs...)
		if err != nil {
			return fmt.Errorf("update %s: %w", w.path, err)
		}
		tmp, err := writeTemp(target, w.content, w.mode)
		if err != nil {
			return fmt.Errorf("update %s: %w", w.path, err)
		}
		temps[w.path] = tmp
	}

	var done []string // paths replaced or deleted so far
	defer func() {
		if err != nil {
			for _, p := range done {
				restore(root, p, originals[p])
			}
		}
	}()
	for _, w := range writes {
		if err := os.Rename(temps[w.path], filepath.Join(root, filepath.FromSlash(w.path))); err != nil {
			return fmt.Errorf("update %s: %w", w.path, err)
		}
		delete(temps, w.path)
		done = append(done, w.path)
	}
	for _, p := range deletes {
		if err := os.Remove(filepath.Join(root, filepath.FromSlash(p))); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete %s: %w", p, err)
		}
		done = append(done, p)
	}
	removeEmptyParents(root, deletes)
	return nil
}

func pathsOf(writes []fileWrite) []string {
	paths := make([]string, len(writes))
	for i, w := range writes {
		paths[i] = w.path
	}
	return paths
}

func readOriginal(root, p string) (original, error) {
	full := filepath.Join(root, filepath.FromSlash(p))
	fi, err := os.Lstat(full)
	if errors.Is(err, fs.ErrNotExist) {
		return original{}, nil
	}
	if err != nil {
		return original{}, fmt.Errorf("read %s: %w", p, err)
	}
	if !fi.Mode().IsRegular() {
		return original{}, fmt.Errorf("%s is not a regular file: scaffold update replaces only files; move it away and run update again", p)
	}
	b, err := os.ReadFile(full)
	if err != nil {
		return original{}, fmt.Errorf("read %s: %w", p, err)
	}
	return original{existed: true, content: b, mode: fi.Mode().Perm()}, nil
}

// mkdirAll is os.MkdirAll that returns the directories it created, parents
// first, so that they can be removed again.
func mkdirAll(dir string) ([]string, error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	var created []string
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o755); err != nil {
			return created, err
		}
		created = append(created, missing[i])
	}
	return created, nil
}

// writeTemp writes content to a new temporary file beside target and returns
// its name.
func writeTemp(target string, content []byte, mode fs.FileMode) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".scaffold-")
	if err != nil {
		return "", err
	}
	_, werr := f.Write(content)
	cerr := f.Close()
	if err := errors.Join(werr, cerr, os.Chmod(f.Name(), mode)); err != nil {
		_ = os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// restore puts p back as it was, as well as it can: it runs only after
// another failure, which is what gets reported.
func restore(root, p string, o original) {
	full := filepath.Join(root, filepath.FromSlash(p))
	if !o.existed {
		_ = os.Remove(full)
		return
	}
	_ = os.MkdirAll(filepath.Dir(full), 0o755)
	if tmp, err := writeTemp(full, o.content, o.mode); err == nil {
		_ = os.Rename(tmp, full)
	}
}

// removeEmptyParents removes the directories of deleted files that are now
// empty, deepest first, up to but not including root.
func removeEmptyParents(root string, deleted []string) {
	dirs := map[string]bool{}
	for _, p := range deleted {
		for d := filepath.Dir(filepath.FromSlash(p)); d != "."; d = filepath.Dir(d) {
			dirs[d] = true
		}
	}
	sorted := make([]string, 0, len(dirs))
	for d := range dirs {
		sorted = append(sorted, d)
	}
	// Deeper paths first: more separators sort first.
	sort.Slice(sorted, func(i, j int) bool {
		return strings.Count(sorted[i], string(filepath.Separator)) > strings.Count(sorted[j], string(filepath.Separator))
	})
	for _, d := range sorted {
		_ = os.Remove(filepath.Join(root, d)) // fails, harmlessly, unless empty
	}
}
