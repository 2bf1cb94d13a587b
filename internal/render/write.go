package render

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// GeneratedFiles are the files that the real protobuf generators produce from
// the rendered .proto files, each of which declares a service. Render does
// not produce them; Write runs the service's own `go tool protogen`,
// exactly as its `make generate` does.
func GeneratedFiles(files []File) []string {
	var paths []string
	for _, f := range files {
		if base, ok := strings.CutSuffix(f.Path, ".proto"); ok && strings.HasPrefix(f.Path, "api/") {
			paths = append(paths, base+".pb.go", base+"_grpc.pb.go")
		}
	}
	return paths
}

// CheckTarget refuses a target that is a file or a non-empty directory, or
// whose nearest existing ancestor is not a directory. A missing target, with
// missing parents (Write creates them), or an empty directory, is fine.
func CheckTarget(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case missing(err):
		for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
			pfi, err := os.Stat(p)
			switch {
			case missing(err) && p != filepath.Dir(p):
				continue
			case err != nil:
				return fmt.Errorf("check target %s: %w", dir, err)
			case !pfi.IsDir():
				return inputErrorf("%s is a file, so %s cannot be created under it: choose another -o", p, dir)
			}
			return nil
		}
	case err != nil:
		return fmt.Errorf("check target %s: %w", dir, err)
	case !fi.IsDir():
		return inputErrorf("target %s is a file, not a directory: choose another -o", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("check target %s: %w", dir, err)
	}
	if len(entries) > 0 {
		return inputErrorf("target directory %s exists and is not empty: scaffold never overwrites; remove it or choose another -o", dir)
	}
	return nil
}

// Write puts files into dir as one step. It creates dir's missing parents,
// writes the files into a staging directory next to dir, generates the
// protobuf code there, and only then renames the staging directory to dir,
// so a failure at any point leaves nothing behind, the parents it created
// included, and an existing tree is never touched.
func Write(ctx context.Context, d Data, files []File, dir string) (err error) {
	if err := CheckTarget(dir); err != nil {
		return err
	}
	created, err := mkdirParents(filepath.Dir(dir))
	defer func() {
		if err != nil {
			removeCreated(created)
		}
	}()
	if err != nil {
		return err
	}
	stage, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".scaffold-")
	if err != nil {
		return fmt.Errorf("create staging directory: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(stage)
		}
	}()
	for _, f := range files {
		p := filepath.Join(stage, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), dirMode); err != nil {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
		if err := os.WriteFile(p, f.Content, f.Mode); err != nil {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
	}
	if err := os.Chmod(stage, dirMode); err != nil {
		return fmt.Errorf("set mode of %s: %w", stage, err)
	}
	if err := generateProto(ctx, stage, files); err != nil {
		return err
	}
	for _, g := range GeneratedFiles(files) {
		if _, err := os.Stat(filepath.Join(stage, filepath.FromSlash(g))); err != nil {
			return fmt.Errorf("protobuf generation did not produce %s: %w", g, err)
		}
	}
	// An empty target directory, which CheckTarget allows, makes way; Remove
	// fails rather than delete anything that appeared in it meanwhile.
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("replace empty directory %s: %w", dir, err)
	}
	if err := os.Rename(stage, dir); err != nil {
		return fmt.Errorf("move generated tree into %s: %w", dir, err)
	}
	return nil
}

// missing reports whether a stat failed because the path does not exist,
// which is ENOTDIR when a file stands where a parent directory would be.
func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// mkdirParents creates dir and its missing parents, and returns the ones it
// created, deepest first, for removeCreated.
func mkdirParents(dir string) (created []string, err error) {
	var missing []string
	for p := dir; ; p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) || p == filepath.Dir(p) {
			return nil, fmt.Errorf("create %s: %w", dir, err)
		}
		missing = append(missing, p)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], dirMode); err != nil {
			return created, fmt.Errorf("create %s: %w", missing[i], err)
		}
		created = append([]string{missing[i]}, created...)
	}
	return created, nil
}

// removeCreated removes the directories that mkdirParents created, deepest
// first. Remove refuses a directory that is not empty, so nothing that
// appeared in one meanwhile is lost.
func removeCreated(created []string) {
	for _, d := range created {
		_ = os.Remove(d)
	}
}
