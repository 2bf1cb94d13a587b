package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/zerodrop/zerodrop/internal/lint"
	"github.com/zerodrop/zerodrop/internal/render"
)

// lintOptions holds the answers of scaffold lint.
type lintOptions struct {
	paths       []string // PATH arguments; none or "-" is stdin
	output      string   // -o, --output: text, json or sarif
	skip        []string // --skip: rule IDs not to run
	enable      []string // --enable: optional rule IDs to run
	kubeVersion string   // --kube-version: the cluster's version, for version-specific advice
}

const lintExample = `  # A kustomize overlay, rendered in process as kubectl kustomize would:
  scaffold lint deploy/kustomize/overlays/prod

  # Plain manifests, or whatever another tool renders:
  scaffold lint deployment.yaml service.yaml
  helm template my-release ./chart | scaffold lint -

  # For CI, as JSON, without the Pod Security check on a cluster that does not enforce it:
  scaffold lint deploy/kustomize/overlays/prod -o json --skip pss-restricted

  # For GitHub code scanning, with advice fitted to the cluster's version:
  scaffold lint deploy/kustomize/overlays/prod -o sarif --kube-version 1.33 > lint.sarif`

func newLintCmd(out io.Writer) *cobra.Command {
	o := &lintOptions{}
	cmd := &cobra.Command{
		Use:   "lint [PATH...]",
		Short: "Check Kubernetes manifests for what drops requests during a rolling update",
		Long: `Check that workloads, and the objects around them, survive a rolling update
without dropping a request: the timings across fields (preStop, the app's
drain delay and timeouts, terminationGracePeriodSeconds, readiness), and the
links across objects (PDB, Service, Ingress and HPA to the pods) that no
schema validation sees. It works on any manifests, not only generated ones.

The pod rules run on every Deployment, StatefulSet, DaemonSet, ReplicaSet,
Job, CronJob and Argo Rollout; the rollout rules where the kind has the
strategy they judge. A container serves when a Service of the input leads to
it (by port name or number); where no Service shares its namespace, when it
declares a port. The report ends with what was checked, and which objects
that own pods were skipped and why.

PATH is a kustomize directory (rendered in process, as kubectl kustomize
would), or YAML files; with no PATH, or "-", manifests are read from stdin.
All inputs are linted together, so cross-object rules see every object.
Every object must decode strictly into its Kubernetes API type: unknown or
misspelt fields are errors, as strict server-side validation would make them.

In-app timings are read as the generated service takes them: the variables
SHUTDOWN_DELAY, SHUTDOWN_TIMEOUT and CLEANUP_TIMEOUT (Go durations, or
seconds), set in env, env valueFrom a ConfigMap, or envFrom a ConfigMap of
the input, or the flags --shutdown-delay, --shutdown-timeout and
--cleanup-timeout in the container's args.

Each finding gives the object and field, with file:line for plain YAML (the
source file, without a line, for kustomize), the severity, what goes wrong
and the fix. -o sarif writes SARIF 2.1.0 for GitHub code scanning. Rules
marked optional run only with --enable. The exit status is 1 when there is
any error, 0 when there are only warnings or nothing, and 2 for a usage
error.

Rules:
` + rulesTable(),
		Example: lintExample,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.paths = args
			return o.run(cmd.Context(), streamsOf(cmd, out))
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.output, "output", "o", "text", "output format: text, json or sarif")
	f.StringSliceVar(&o.skip, "skip", nil, "rule IDs not to run, comma-separated")
	f.StringSliceVar(&o.enable, "enable", nil, "optional rule IDs to run as well, comma-separated")
	f.StringVar(&o.kubeVersion, "kube-version", "", "the cluster's Kubernetes version (1.33): advice needing a newer release is left out (default: a supported release)")
	return cmd
}

// rulesTable lists the rules for the help, from the rules themselves, so the
// help cannot fall behind them.
func rulesTable() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, r := range lint.Rules() {
		sev := string(r.Severity)
		if r.Optional {
			sev += ", optional"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", r.ID, sev, r.Summary)
	}
	_ = tw.Flush()
	return strings.TrimRight(b.String(), "\n")
}

func (o *lintOptions) run(_ context.Context, s streams) error {
	out := s.out
	if o.output != "text" && o.output != "json" && o.output != "sarif" {
		return render.Input(fmt.Errorf("-o %q: use text, json or sarif", o.output))
	}
	in, err := o.load(s.in)
	if err != nil {
		return err
	}
	report, err := lint.Lint(in, lint.Options{Skip: o.skip, Enable: o.enable, KubeVersion: o.kubeVersion})
	if err != nil {
		return render.Input(err)
	}
	switch o.output {
	case "json":
		err = lint.WriteJSON(out, report)
	case "sarif":
		err = lint.WriteSARIF(out, report, lint.Rules())
	default:
		err = lint.WriteText(out, report)
	}
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if report.Errors > 0 {
		return fmt.Errorf("lint found %d error(s)", report.Errors)
	}
	return nil
}

// isHelmChart reports whether dir is a Helm chart: it holds a Chart.yaml.
func isHelmChart(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "Chart.yaml"))
	return err == nil
}

// load reads every PATH into one input. A path that does not exist, or a
// directory kustomize cannot build, is the caller's to fix; a kustomization
// that fails to build is the manifests' problem and fails the run.
func (o *lintOptions) load(stdin io.Reader) (*lint.Input, error) {
	paths := o.paths
	if len(paths) == 0 {
		paths = []string{"-"}
	}
	in := &lint.Input{}
	sawStdin := false
	for _, p := range paths {
		var part *lint.Input
		var err error
		switch fi, statErr := os.Stat(p); {
		case p == "-":
			if sawStdin {
				return nil, render.Input(errors.New(`"-" (stdin) given more than once`))
			}
			sawStdin = true
			part, err = lint.LoadReader(stdin, "-")
		case errors.Is(statErr, fs.ErrNotExist):
			return nil, render.Input(fmt.Errorf("%s does not exist: pass a kustomize directory, YAML files, or - for stdin", p))
		case statErr != nil:
			return nil, fmt.Errorf("lint: %w", statErr)
		case fi.IsDir() && isHelmChart(p):
			return nil, render.Input(fmt.Errorf("%s is a Helm chart, whose templates are not YAML until rendered: helm template RELEASE %s | scaffold lint -", p, p))
		case fi.IsDir() && !lint.IsKustomizeDir(p):
			return nil, render.Input(fmt.Errorf("%s is a directory without a kustomization.yaml: pass the kustomize directory, or the YAML files themselves", p))
		case fi.IsDir():
			part, err = lint.LoadKustomize(p)
		default:
			part, err = lint.LoadFile(p)
		}
		if err != nil {
			return nil, fmt.Errorf("lint: %w", err)
		}
		in.Add(part)
	}
	return in, nil
}
