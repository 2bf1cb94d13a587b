package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/zerodrop/zerodrop/internal/render"
	"github.com/zerodrop/zerodrop/internal/update"
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

func (o *updateOptions) run(ctx context.Context, s streams) error {
	return update.Run(ctx, update.Options{
		Dir: o.dir, From: o.from, FromGit: o.fromGit, Repo: o.repo,
		Answers: o.answers, Force: o.force, DryRun: o.dryRun,
	}, s.out, s.err)
}
