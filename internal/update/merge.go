package update

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// mergeLabels name the three sides in conflict markers.
type mergeLabels struct{ ours, base, theirs string }

// merge3 merges the changes from base to ours and from base to theirs, line
// by line, with git merge-file: the merge git itself does, with its standard
// conflict markers, and no repository needed. It reports whether any hunk
// conflicted; the result then holds both sides between markers.
//
// git is already required for the dirty-tree check and --from-git, and a
// three-way merge is easy to get subtly wrong, so scaffold uses git's rather
// than carry its own.
func merge3(ctx context.Context, base, ours, theirs []byte, l mergeLabels) (merged []byte, conflict bool, err error) {
	dir, err := os.MkdirTemp("", "scaffold-merge-")
	if err != nil {
		return nil, false, fmt.Errorf("merge: %w", err)
	}
	defer os.RemoveAll(dir)
	names := []string{"ours", "base", "theirs"}
	for i, b := range [][]byte{ours, base, theirs} {
		if err := os.WriteFile(filepath.Join(dir, names[i]), b, 0o600); err != nil {
			return nil, false, fmt.Errorf("merge: %w", err)
		}
	}
	cmd := exec.CommandContext(ctx, "git", "merge-file", "-p",
		"-L", l.ours, "-L", l.base, "-L", l.theirs, "ours", "base", "theirs")
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	// git merge-file exits with the number of conflicts, and with a negative
	// status (255) when it could not merge at all.
	var exit *exec.ExitError
	switch {
	case err == nil:
		return stdout.Bytes(), false, nil
	case errors.As(err, &exit) && exit.ExitCode() > 0 && exit.ExitCode() < 128:
		return stdout.Bytes(), true, nil
	case errors.Is(err, exec.ErrNotFound):
		return nil, false, errors.New("git is not on PATH: scaffold update merges with git merge-file; install git")
	default:
		return nil, false, fmt.Errorf("git merge-file: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
}
