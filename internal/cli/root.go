// Package cli is scaffold's command line. Commands are built by constructors
// from options structs, with their output streams injected, so that tests run
// fresh command instances with no shared state.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/zerodrop/zerodrop/internal/render"
)

// Exit codes.
const (
	ExitOK    = 0
	ExitError = 1 // the command failed while working
	ExitUsage = 2 // the input was wrong; nothing was done
)

// streams are a command's standard streams. Every command's run takes them
// with its context, so that tests run commands in process with their own.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

// streamsOf is cmd's input and error streams, with out as its output.
func streamsOf(cmd *cobra.Command, out io.Writer) streams {
	return streams{in: cmd.InOrStdin(), out: out, err: cmd.ErrOrStderr()}
}

// Run executes scaffold with args and returns the process exit code.
func Run(args []string, stdout, stderr io.Writer) int {
	cmd := NewRootCmd(stdout, stderr)
	cmd.SetArgs(args)
	return Report(cmd.ExecuteContext(context.Background()), stderr)
}

// Report prints a command's error to stderr as scaffold does and returns
// the exit code for it: ExitUsage for the caller's mistakes, ExitError for
// failures, ExitOK for none.
func Report(err error, stderr io.Writer) int {
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(stderr, "scaffold: %v\n", err)
	if _, ok := errors.AsType[*render.InputError](err); ok {
		return ExitUsage
	}
	return ExitError
}

// NewRootCmd returns the scaffold command tree.
func NewRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "scaffold",
		Short: "Generate Go HTTP + gRPC services that roll out on Kubernetes without dropping a request",
		Long: `scaffold generates standalone Go HTTP + gRPC services, each with a health port,
a documented shutdown sequence that loses no request during a rolling update,
a retrying gRPC client, Kustomize manifests, a Dockerfile, a Makefile and tests,
and later brings them up to newer templates with scaffold update, keeping
their edits.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	// Flag errors are usage errors: say so and point at help.
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return render.Input(fmt.Errorf("%w\nRun '%s --help' for usage.", err, c.CommandPath()))
	})
	root.AddCommand(newNewCmd(stdout), newUpdateCmd(stdout), newVersionCmd(stdout), newLintCmd(stdout))
	return root
}
