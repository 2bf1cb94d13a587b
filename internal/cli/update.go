package cli

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

	"github.com/spf13/cobra"
	"golang.org/x/mod/semver"

	"github.com/zerodrop/zerodrop/internal/render"
)

// updateOptions holds the flags of scaffold update.
type updateOptions struct {
	dir     string            // DIR argument; default .
	from    string            // --from: the old template tree, as a directory
	fromGit string            // --from-git: the old template tree, as a zerodrop revision
	repo    string            // --repo: the zerodrop clone --from-git reads
	answers map[string]string // --answers: answers to change
	force   bool              // --force: run on a dirty tree, or outside git
	dryRun  bool              // --dry-run
}

const updateExample = `  # In a generated service, committed to git:
  scaffold update

  # See what it would do, and write nothing:
  scaffold update services/payments --dry-run

  # Change an answer and re-render through the same merge (cmd/NAME moves
  # with a new name):
  scaffold update --answers httpPort=18080,name=payments-v2

  # A service generated before scaffold recorded template hashes: name the
  # zerodrop commit it was generated with, from a zerodrop clone:
  cd ~/src/zerodrop && scaffold update ~/src/payments-api --from-git 61acd2c`

func newUpdateCmd(out io.Writer) *cobra.Command {
	o := &updateOptions{}
	cmd := &cobra.Command{
		Use:   "update [DIR]",
		Short: "Bring a generated service up to this scaffold's templates, keeping your edits",
		Long: `Bring the service in DIR (default .) up to the templates built into this
scaffold, keeping your edits.

scaffold update renders the template tree the service was generated from
(its .scaffold.yaml records the answers and the tree's hash) and the current
one, and merges the difference into DIR three ways: base is the old render,
yours is DIR, theirs is the new render.

  - A file you never changed takes the new content.
  - A file only you changed stays as it is.
  - A file both changed is merged line by line (git merge-file). Where the
    changes overlap it gets conflict markers, is listed, and the exit status
    is 1: resolve the markers, then commit.
  - New template files are added; removed ones are deleted unless you changed
    them. Files the template moved, or whose path follows an answer such as
    cmd/NAME, move with it.
  - The protobuf code is regenerated from the merged .proto, never merged.

The old tree comes from, in order: --from DIR; --from-git REV, read with git
archive from the zerodrop clone at --repo; the templates built into this
scaffold, if the hash matches; the template cache in the user cache
directory (zerodrop/templates), which every scaffold new and update fills,
so it works offline.

DIR must be a clean git tree, so that the update can be reviewed with git
diff and undone with git checkout; --force skips that check. Everything is
computed before anything is written, and an error leaves DIR as it was.
--dry-run prints the plan, and exits 1 if the update would conflict.

Change answers with --answers, not by editing .scaffold.yaml: the record must
say what the service was generated with, or the merge base is wrong.`,
		Example: updateExample,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 {
				return render.Input(fmt.Errorf("update takes at most one DIR, got %d arguments: scaffold update [DIR]", len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.dir = "."
			if len(args) == 1 {
				o.dir = args[0]
			}
			return o.run(cmd.Context(), streamsOf(cmd, out))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.from, "from", "", "the template tree DIR was generated from, as a directory (a zerodrop checkout's templates/service)")
	f.StringVar(&o.fromGit, "from-git", "", "the zerodrop commit or tag DIR was generated with; its templates/service is read with git archive from --repo")
	f.StringVar(&o.repo, "repo", ".", "the zerodrop clone that --from-git reads")
	f.StringToStringVar(&o.answers, "answers", nil, "answers to change, as `KEY=VALUE,...` with the keys of .scaffold.yaml ("+strings.Join(render.AnswerKeys(), ", ")+")")
	f.Lookup("answers").DefValue = "" // not "[]" in the help
	f.BoolVar(&o.force, "force", false, "update even if DIR has uncommitted changes or is not in a git repository")
	f.BoolVar(&o.dryRun, "dry-run", false, "print what would be added, updated, merged, conflicted and deleted, and write nothing")
	return cmd
}

// conflictError reports files left with conflict markers, or that would be.
type conflictError struct {
	paths  []string
	dryRun bool
}

func (e conflictError) Error() string {
	if e.dryRun {
		return fmt.Sprintf("%d file(s) would have conflicts:\n  %s", len(e.paths), strings.Join(e.paths, "\n  "))
	}
	return fmt.Sprintf("%d file(s) have conflicts; resolve the <<<<<<< ======= >>>>>>> markers, then make test and commit:\n  %s",
		len(e.paths), strings.Join(e.paths, "\n  "))
}

func (o *updateOptions) run(ctx context.Context, s streams) error {
	out, stderr := s.out, s.err
	dir := filepath.Clean(o.dir)
	if o.from != "" && o.fromGit != "" {
		return render.Input(errors.New("--from and --from-git both name the old template tree: pass one"))
	}
	oldData, err := readRecord(dir)
	if err != nil {
		return err
	}
	// An older scaffold would "update" the service back to its own, older
	// templates, undoing what the newer one brought.
	if semver.Compare("v"+oldData.ScaffoldVersion, "v"+render.Version) > 0 {
		return render.Input(fmt.Errorf("%s was last rendered by scaffold %s, newer than this scaffold %s: updating would take it back to older templates; use scaffold %s or later",
			dir, oldData.ScaffoldVersion, render.Version, oldData.ScaffoldVersion))
	}
	newTree, err := builtinTree()
	if err != nil {
		return err
	}
	newData := oldData
	for _, k := range sortedAnswerKeys(o.answers) {
		if err := newData.SetAnswer(k, o.answers[k]); err != nil {
			return err
		}
	}
	newData.ScaffoldVersion, newData.TemplateHash = render.Version, newTree.hash
	if err := newData.Validate(); err != nil {
		return err
	}
	if !o.dryRun && !o.force {
		if err := checkClean(ctx, dir); err != nil {
			return err
		}
	}
	scratch, err := os.MkdirTemp("", "scaffold-update-")
	if err != nil {
		return fmt.Errorf("create scratch directory: %w", err)
	}
	defer os.RemoveAll(scratch)
	oldTree, err := o.oldTree(ctx, oldData, newTree, scratch)
	if err != nil {
		return err
	}
	base, err := render.RenderFS(oldTree.fsys, oldData)
	if err != nil {
		return fmt.Errorf("render the old template tree (%s) with the recorded answers: %w", oldTree.origin, err)
	}
	theirs, err := render.Render(newData)
	if err != nil {
		return err
	}
	labels := mergeLabels{ours: "yours", base: "template " + shortHash(oldTree.hash), theirs: "template " + shortHash(newTree.hash)}
	pl := &planner{ctx: ctx, root: dir, labels: labels}
	if err := pl.mergeAll(base, theirs); err != nil {
		return err
	}
	if err := pl.regenerate(render.GeneratedFiles(oldData)); err != nil {
		return err
	}
	p := &pl.plan
	sort.Slice(p.changes, func(i, j int) bool { return p.changes[i].path < p.changes[j].path })

	verb := "updating"
	if o.dryRun {
		verb = "would update"
	}
	fmt.Fprintf(out, "%s %s from template %s to %s (scaffold %s)\n", verb, dir, shortHash(oldTree.hash), shortHash(newTree.hash), render.Version)
	printPlan(out, p)
	if !o.dryRun {
		if err := applyChanges(dir, p.writes, p.deletes); err != nil {
			return fmt.Errorf("%w (nothing was changed)", err)
		}
		oldTree.remember(stderr)
		newTree.remember(stderr)
	}
	if c := p.conflicts(); len(c) > 0 {
		return conflictError{paths: c, dryRun: o.dryRun}
	}
	if !o.dryRun && len(p.changes) > 0 {
		fmt.Fprintln(out, "\nNext: review with git diff, then make test and commit.")
	}
	return nil
}

// oldTree finds the template tree the service was generated from, and checks
// that it is that tree.
func (o *updateOptions) oldTree(ctx context.Context, d render.Data, builtin templateTree, scratch string) (templateTree, error) {
	var t templateTree
	var err error
	switch {
	case o.from != "":
		t, err = dirTree(o.from)
	case o.fromGit != "":
		t, err = gitTree(ctx, o.repo, o.fromGit, scratch)
	case d.TemplateHash == "":
		return templateTree{}, render.Input(fmt.Errorf("%s records scaffold %s but no templateHash: the service was generated before scaffold recorded which template tree it used, so name that tree: "+
			"--from-git REV with the zerodrop commit or tag it was generated with (from a zerodrop clone, or with --repo), or --from DIR with that commit's templates/service", render.RecordFile, d.ScaffoldVersion))
	case d.TemplateHash == builtin.hash:
		return builtin, nil
	default:
		fsys, err := render.CachedTree(d.TemplateHash)
		if errors.Is(err, render.ErrTreeNotCached) {
			return templateTree{}, render.Input(fmt.Errorf("the template tree this service was generated from (%s, scaffold %s) is neither built into this scaffold nor in the template cache (%v): "+
				"pass --from DIR with the templates/service of the zerodrop checkout it was generated with, or --from-git REV with that commit from a zerodrop clone", d.TemplateHash, d.ScaffoldVersion, err))
		}
		if err != nil {
			return templateTree{}, err
		}
		return templateTree{fsys: fsys, hash: d.TemplateHash, origin: "the template cache"}, nil
	}
	if err != nil {
		return templateTree{}, err
	}
	if d.TemplateHash != "" && t.hash != d.TemplateHash {
		return templateTree{}, render.Input(fmt.Errorf("%s is template tree %s, but %s records %s: the service was generated from another tree; give that one, or drop --from/--from-git to use the template cache",
			t.origin, t.hash, render.RecordFile, d.TemplateHash))
	}
	return t, nil
}

// readRecord reads DIR's .scaffold.yaml, or says how to adopt a service that
// has none.
func readRecord(dir string) (render.Data, error) {
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

// printPlan lists every change, one a line, grouped by kind.
func printPlan(out io.Writer, p *plan) {
	if len(p.changes) == 0 {
		fmt.Fprintln(out, "  already up to date: nothing to change")
		return
	}
	for _, c := range p.changes {
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

func sortedAnswerKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// shortHash abbreviates a tree hash for messages and conflict markers.
func shortHash(h string) string {
	if len(h) > len(render.TreeHashPrefix)+12 {
		return h[:len(render.TreeHashPrefix)+12]
	}
	return h
}
