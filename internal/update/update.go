// Package update is scaffold update's engine. It renders the template tree a
// service was generated from and the current one, plans how to take the
// service from one to the other three ways (base: the old render, ours: the
// service, theirs: the new render), and applies the plan in one step.
// Everything is computed before anything is written, and a failed apply
// leaves the service as it was.
package update

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/mod/semver"

	"github.com/zerodrop/zerodrop/internal/render"
	"github.com/zerodrop/zerodrop/internal/tree"
)

// Options say what to update, and from which tree.
type Options struct {
	Dir string
	// From, FromGit and Repo name the tree the service was generated from,
	// for a service whose record does not or whose tree the cache lacks:
	// a directory, or a zerodrop revision read from the clone at Repo.
	From, FromGit, Repo string
	// Answers are answers to change, by .scaffold.yaml key.
	Answers map[string]string
	// Force skips the check that Dir is a clean git tree.
	Force bool
	// DryRun plans without the checks that only matter for writing.
	DryRun bool
}

// Run prepares the update, prints its plan to out and, unless o.DryRun,
// applies it: what scaffold update does. It returns a *ConflictError when
// files are left, or would be left, with conflict markers.
func Run(ctx context.Context, o Options, out, stderr io.Writer) error {
	u, err := Prepare(ctx, o)
	if err != nil {
		return err
	}
	if o.DryRun {
		u.Print(out, "would update")
		return u.Conflicts(true)
	}
	u.Print(out, "updating")
	if err := u.Apply(stderr); err != nil {
		return err
	}
	if err := u.Conflicts(false); err != nil {
		return err
	}
	if u.Changed() {
		fmt.Fprintln(out, "\nNext: review with git diff, then make test and commit.")
	}
	return nil
}

// Update is a planned update of one service.
type Update struct {
	dir      string
	old, new tree.Tree
	plan     *plan
}

// Prepare reads the service's record, finds both template trees, renders
// them, and plans the update. It writes nothing.
func Prepare(ctx context.Context, o Options) (*Update, error) {
	dir := filepath.Clean(o.Dir)
	if o.From != "" && o.FromGit != "" {
		return nil, render.Input(errors.New("--from and --from-git both name the old template tree: pass one"))
	}
	oldData, err := ReadRecord(dir)
	if err != nil {
		return nil, err
	}
	// An older scaffold would "update" the service back to its own, older
	// templates, undoing what the newer one brought.
	if semver.Compare("v"+oldData.ScaffoldVersion, "v"+render.Version) > 0 {
		return nil, render.Input(fmt.Errorf("%s was last rendered by scaffold %s, newer than this scaffold %s: updating would take it back to older templates; use scaffold %s or later",
			dir, oldData.ScaffoldVersion, render.Version, oldData.ScaffoldVersion))
	}
	newTree, err := tree.Builtin()
	if err != nil {
		return nil, err
	}
	newData := oldData
	for _, k := range sortedKeys(o.Answers) {
		if err := newData.SetAnswer(k, o.Answers[k]); err != nil {
			return nil, err
		}
	}
	newData.ScaffoldVersion, newData.TemplateHash = render.Version, newTree.Hash
	if err := newData.Validate(); err != nil {
		return nil, err
	}
	if !o.DryRun && !o.Force {
		if err := checkClean(ctx, dir); err != nil {
			return nil, err
		}
	}
	scratch, err := os.MkdirTemp("", "scaffold-update-")
	if err != nil {
		return nil, fmt.Errorf("create scratch directory: %w", err)
	}
	defer os.RemoveAll(scratch)
	oldTree, err := findBase(ctx, o, oldData, newTree, scratch)
	if err != nil {
		return nil, err
	}
	base, err := render.RenderFS(oldTree.FS, oldData)
	if err != nil {
		return nil, fmt.Errorf("render the old template tree (%s) with the recorded answers: %w", oldTree.Origin, err)
	}
	theirs, err := render.Render(newData)
	if err != nil {
		return nil, err
	}
	labels := mergeLabels{ours: "yours", base: "template " + tree.Short(oldTree.Hash), theirs: "template " + tree.Short(newTree.Hash)}
	pl := &planner{ctx: ctx, root: dir, labels: labels}
	if err := pl.mergeAll(base, theirs); err != nil {
		return nil, err
	}
	if err := pl.regenerate(render.GeneratedFiles(base)); err != nil {
		return nil, err
	}
	p := &pl.plan
	sort.Slice(p.changes, func(i, j int) bool { return p.changes[i].path < p.changes[j].path })
	return &Update{dir: dir, old: oldTree, new: newTree, plan: p}, nil
}

// Print writes the plan: a heading, then every change, one a line. verb
// says whether it is being done or would be ("updating", "would update").
func (u *Update) Print(out io.Writer, verb string) {
	fmt.Fprintf(out, "%s %s from template %s to %s (scaffold %s)\n", verb, u.dir, tree.Short(u.old.Hash), tree.Short(u.new.Hash), render.Version)
	if len(u.plan.changes) == 0 {
		fmt.Fprintln(out, "  already up to date: nothing to change")
		return
	}
	for _, c := range u.plan.changes {
		line := fmt.Sprintf("  %-12s %s", c.kind, c.path)
		if c.from != "" {
			line += " (moved from " + c.from + ")"
		}
		if c.note != "" {
			line += ": " + c.note
		}
		fmt.Fprintln(out, line)
	}
}

// Changed reports whether the plan changes anything.
func (u *Update) Changed() bool { return len(u.plan.changes) > 0 }

// Apply writes the plan into the service in one step, and keeps both trees
// in the template cache for the next update; a failure to cache is only
// reported on stderr.
func (u *Update) Apply(stderr io.Writer) error {
	if err := applyChanges(u.dir, u.plan.writes, u.plan.deletes); err != nil {
		return fmt.Errorf("%w (nothing was changed)", err)
	}
	u.old.Remember(stderr)
	u.new.Remember(stderr)
	return nil
}

// Conflicts are the paths the plan leaves with conflict markers, as a
// *ConflictError, or nil.
func (u *Update) Conflicts(dryRun bool) error {
	if c := u.plan.conflicts(); len(c) > 0 {
		return &ConflictError{Paths: c, DryRun: dryRun}
	}
	return nil
}

// ConflictError lists the files that an update leaves, or would leave, with
// conflict markers for the user to resolve.
type ConflictError struct {
	Paths  []string
	DryRun bool
}

func (e *ConflictError) Error() string {
	if e.DryRun {
		return fmt.Sprintf("%d file(s) would have conflicts:\n  %s", len(e.Paths), strings.Join(e.Paths, "\n  "))
	}
	return fmt.Sprintf("%d file(s) have conflicts; resolve the <<<<<<< ======= >>>>>>> markers, then make test and commit:\n  %s",
		len(e.Paths), strings.Join(e.Paths, "\n  "))
}

// findBase finds the template tree the service was generated from, and
// checks that it is that tree.
func findBase(ctx context.Context, o Options, d render.Data, builtin tree.Tree, scratch string) (tree.Tree, error) {
	var t tree.Tree
	var err error
	switch {
	case o.From != "":
		t, err = tree.Dir(o.From)
	case o.FromGit != "":
		t, err = tree.Git(ctx, o.Repo, o.FromGit, scratch)
	case d.TemplateHash == "":
		return tree.Tree{}, render.Input(fmt.Errorf("%s records scaffold %s but no templateHash: the service was generated before scaffold recorded which template tree it used, so name that tree: "+
			"--from-git REV with the zerodrop commit or tag it was generated with (from a zerodrop clone, or with --repo), or --from DIR with that commit's templates/service", render.RecordFile, d.ScaffoldVersion))
	case d.TemplateHash == builtin.Hash:
		return builtin, nil
	default:
		t, err := tree.Cached(d.TemplateHash)
		if errors.Is(err, tree.ErrNotCached) {
			return tree.Tree{}, render.Input(fmt.Errorf("the template tree this service was generated from (%s, scaffold %s) is neither built into this scaffold nor in the template cache (%v): "+
				"pass --from DIR with the templates/service of the zerodrop checkout it was generated with, or --from-git REV with that commit from a zerodrop clone", d.TemplateHash, d.ScaffoldVersion, err))
		}
		return t, err
	}
	if err != nil {
		return tree.Tree{}, err
	}
	if d.TemplateHash != "" && t.Hash != d.TemplateHash {
		return tree.Tree{}, render.Input(fmt.Errorf("%s is template tree %s, but %s records %s: the service was generated from another tree; give that one, or drop --from/--from-git to use the template cache",
			t.Origin, t.Hash, render.RecordFile, d.TemplateHash))
	}
	return t, nil
}

// ReadRecord reads dir's .scaffold.yaml, or says how to adopt a service that
// has none.
func ReadRecord(dir string) (render.Data, error) {
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return render.Data{}, render.Input(fmt.Errorf("%s is not a directory: give the generated service's directory", dir))
	}
	b, err := os.ReadFile(filepath.Join(dir, render.RecordFile))
	if errors.Is(err, fs.ErrNotExist) {
		return render.Data{}, render.Input(fmt.Errorf("%s has no %s, so scaffold cannot tell which template and answers it was generated from. To adopt it: "+
			"run scaffold new with the answers it was generated with (scaffold new NAME --module PATH -o /tmp/fresh ...), "+
			"copy /tmp/fresh/%s into %s and commit it; if it was generated from older templates, "+
			"use that scaffold or pass --from to scaffold new, so that the record names the right tree", dir, render.RecordFile, render.RecordFile, dir))
	}
	if err != nil {
		return render.Data{}, fmt.Errorf("read %s: %w", render.RecordFile, err)
	}
	return render.ReadRecord(b)
}

// checkClean refuses a tree with uncommitted changes, or one outside git.
func checkClean(ctx context.Context, dir string) error {
	cmd := exec.CommandContext(ctx, "git", "-C", dir, "status", "--porcelain", "--", ".")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return render.Input(fmt.Errorf("%s is not a git work tree (git status: %v: %s): scaffold update rewrites files in place, and git is how you review and undo that; "+
			"commit the service to git first (git init && git add -A && git commit), or pass --force", dir, err, strings.TrimSpace(stderr.String())))
	}
	if s := strings.TrimRight(stdout.String(), "\n"); s != "" {
		return render.Input(fmt.Errorf("%s has uncommitted changes:\n%s\ncommit or stash them first, so that the update's own changes can be reviewed and undone with git; or pass --force", dir, s))
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
