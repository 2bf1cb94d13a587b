package cli

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/zerodrop/zerodrop/internal/render"
)

// templateTree is a template tree, the hash that names it, and where it came
// from, for messages.
type templateTree struct {
	fsys   fs.FS
	hash   string
	origin string
}

// builtinTree is the tree embedded in this binary.
func builtinTree() (templateTree, error) {
	fsys := render.Builtin()
	hash, err := render.TreeHash(fsys)
	if err != nil {
		return templateTree{}, err
	}
	return templateTree{fsys: fsys, hash: hash, origin: "the templates built into scaffold " + render.Version}, nil
}

// dirTree is a template tree in a directory, such as a zerodrop checkout's
// templates/service.
func dirTree(dir string) (templateTree, error) {
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return templateTree{}, render.Input(fmt.Errorf("--from %s is not a directory: give a template tree such as a zerodrop checkout's templates/service", dir))
	}
	if _, err := os.Stat(filepath.Join(dir, render.RecordFile+".tmpl")); err != nil {
		return templateTree{}, render.Input(fmt.Errorf("--from %s has no %s.tmpl, so it is not a scaffold template tree: give a zerodrop checkout's templates/service", dir, render.RecordFile))
	}
	fsys := os.DirFS(dir)
	hash, err := render.TreeHash(fsys)
	if err != nil {
		return templateTree{}, fmt.Errorf("--from %s: %w", dir, err)
	}
	return templateTree{fsys: fsys, hash: hash, origin: dir}, nil
}

// gitTreePath is where a zerodrop repository keeps the template tree.
const gitTreePath = "templates/service"

// gitTree extracts the template tree of revision rev from the zerodrop
// repository at repo with git archive, into scratch, a directory the caller
// owns and removes. It is how a service generated before the template cache
// existed finds its templates: the commit it was generated with is enough.
func gitTree(ctx context.Context, repo, rev, scratch string) (templateTree, error) {
	cmd := exec.CommandContext(ctx, "git", "-C", repo, "archive", "--format=tar", rev, gitTreePath)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return templateTree{}, render.Input(fmt.Errorf("--from-git %s: git archive in %s failed (%v): %s\n--from-git reads a zerodrop clone: pass --repo PATH-TO-ZERODROP, and a commit or tag that it holds",
			rev, repo, err, strings.TrimSpace(stderr.String())))
	}
	tr := tar.NewReader(&stdout)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return templateTree{}, fmt.Errorf("--from-git %s: read git archive: %w", rev, err)
		}
		rel, ok := strings.CutPrefix(path.Clean(h.Name), gitTreePath+"/")
		if !ok || h.Typeflag != tar.TypeReg {
			continue
		}
		if !fs.ValidPath(rel) {
			return templateTree{}, fmt.Errorf("--from-git %s: archive holds an unsafe path %q", rev, h.Name)
		}
		p := filepath.Join(scratch, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return templateTree{}, fmt.Errorf("--from-git %s: %w", rev, err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return templateTree{}, fmt.Errorf("--from-git %s: read git archive: %w", rev, err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return templateTree{}, fmt.Errorf("--from-git %s: %w", rev, err)
		}
	}
	t, err := dirTree(scratch)
	if err != nil {
		return templateTree{}, fmt.Errorf("--from-git %s: %s at that revision is not a template tree: %w", rev, gitTreePath, err)
	}
	t.origin = gitTreePath + " at " + rev + " in " + repo
	return t, nil
}

// remember stores t in the template cache, so that a later scaffold update
// can render it again offline. A failure costs only that convenience, so it
// is reported and does not fail the command.
func (t templateTree) remember(stderr io.Writer) {
	if err := render.CacheTree(t.fsys, t.hash); err != nil {
		fmt.Fprintf(stderr, "scaffold: warning: the template tree was not cached, so a later scaffold update will need --from or --from-git: %v\n", err)
	}
}
