package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/zerodrop/zerodrop/internal/render"
	"github.com/zerodrop/zerodrop/internal/tree"
)

func newVersionCmd(out io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print scaffold's version, what it was built from, and its template tree",
		Long: `Print scaffold's version and what it was built from, and on a second line
the hash of its built-in template tree: what scaffold new records in
.scaffold.yaml as templateHash, and what scaffold update brings a service to.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			t, err := tree.Builtin()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(out, "%s\ntemplates %s\n", versionString(), t.Hash)
			return err
		},
	}
}

// versionString is the template release plus, when the toolchain recorded it,
// the VCS revision of this build.
func versionString() string {
	s := "scaffold " + render.Version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, kv := range bi.Settings {
			if kv.Key == "vcs.revision" {
				s += " (" + kv.Value + ")"
			}
		}
	}
	return s + " " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
}
