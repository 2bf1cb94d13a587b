// Command bench measures what the zerodrop template costs: it builds the
// generated example-service (A), the bare baseline in cmd/bare (B) and the
// peers users would pick instead (podinfo, a kratos service and a go-zero
// service, each from its module at a pinned version; see peers.go) the same
// way, runs every figure for every side in one run, interleaved A B P K G,
// B P K G A, ... so that a noisy neighbour hurts all alike and no side always
// runs first, and reports medians with their range and each side's ratio to
// B. Run it from the bench directory (make bench does).
//
// Usage:
//
//	bench [-rounds 5] [-http-duration 5s] [-grpc-duration 5s] [-peers podinfo,kratos,gozero] [-doc ../BENCHMARKS.md]
//	bench -profile   # CPU profiles of A and B under load, into results/
//	bench -redraw    # the chart again, from results/results.json
//	bench -patch patches/x.patch -vs-shipped   # what a template change gains, into results/patched/
//
// The load generators run in this process, pinned to one set of CPUs; the
// server under test is pinned to the others (see -server-cpus).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/zerodrop/zerodrop/bench/internal/proc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

// options are the command-line settings.
type options struct {
	repo, out, doc       string
	rounds, scaffoldRuns int
	httpDur, grpcDur     time.Duration
	conns                int
	grpcConc, grpcConns  int
	stopRate             int
	stopLoad, stopAfter  time.Duration
	// exitLimit is how long a server may take to exit after SIGTERM before
	// it is killed and the run fails; lossTail how long the loss figure's
	// load goes on after the exit.
	exitLimit, lossTail time.Duration
	// peers names the peers to run beside A and B.
	peers []string
	// traced adds side T, A with tracing on.
	traced bool
	// The fixed-rate loads measure latency below saturation.
	fixedHTTPRate, fixedGRPCRate int
	fixedDur                     time.Duration
	serverCPUs, loadCPUs         []int
	profile, redraw              bool
	keepWork                     bool
	profileSeconds               int
	idleSettle                   time.Duration
	skipScaffold                 bool
	// patches, when set, are applied in order to a copy of example-service
	// to build A.
	patches []string
	// vsShipped makes B the example-service as shipped, so that A/B is the
	// patches' own effect; bPatches, when set, are applied to B's copy, so
	// that A/B is the effect of what A has on top of them.
	vsShipped bool
	bPatches  []string
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&o.repo, "repo", "..", "root of the zerodrop repository")
	fs.StringVar(&o.out, "out", "results", "directory for the chart, the raw results and profiles")
	fs.StringVar(&o.doc, "doc", "", "Markdown file whose bench block gets the results (e.g. ../BENCHMARKS.md)")
	fs.IntVar(&o.rounds, "rounds", 5, "interleaved rounds of every side, each starting one side later")
	fs.IntVar(&o.scaffoldRuns, "scaffold-runs", 7, "timed runs of scaffold new")
	fs.DurationVar(&o.httpDur, "http-duration", 5*time.Second, "HTTP load per round")
	fs.DurationVar(&o.grpcDur, "grpc-duration", 5*time.Second, "gRPC load per round")
	fs.IntVar(&o.conns, "connections", 50, "HTTP connections (and workers)")
	fs.IntVar(&o.grpcConc, "grpc-concurrency", 50, "concurrent gRPC calls")
	fs.IntVar(&o.grpcConns, "grpc-connections", 1, "gRPC connections the calls share")
	fs.IntVar(&o.fixedHTTPRate, "fixed-http-rate", 10000, "HTTP requests/s for the latency below saturation")
	fs.IntVar(&o.fixedGRPCRate, "fixed-grpc-rate", 3000, "gRPC calls/s for the latency below saturation")
	fs.DurationVar(&o.fixedDur, "fixed-duration", 3*time.Second, "length of each fixed-rate load")
	fs.IntVar(&o.stopRate, "shutdown-rate", 1000, "HTTP requests/s, and as many gRPC calls/s, while SIGTERM arrives")
	fs.DurationVar(&o.stopLoad, "shutdown-load", 2500*time.Millisecond, "length of the load around SIGTERM")
	fs.DurationVar(&o.stopAfter, "shutdown-after", time.Second, "SIGTERM this long into that load")
	fs.DurationVar(&o.exitLimit, "exit-limit", 15*time.Second, "longest wait for a server to exit after SIGTERM")
	fs.DurationVar(&o.lossTail, "loss-tail", 500*time.Millisecond, "load on kept-alive connections this long after the server exited")
	peers := fs.String("peers", "podinfo,kratos,gozero", "comma-separated peers to run as further sides: podinfo, kratos, gozero (none with -patch)")
	fs.DurationVar(&o.idleSettle, "idle-settle", 500*time.Millisecond, "wait after ready before reading idle RSS")
	fs.BoolVar(&o.profile, "profile", false, "take CPU profiles under load instead of the benchmark")
	fs.BoolVar(&o.keepWork, "keep-work", false, "keep the work directory (binaries, each server's log) for a post-mortem")
	fs.BoolVar(&o.redraw, "redraw", false, "only draw the chart again from the results.json of an earlier run in -out")
	fs.IntVar(&o.profileSeconds, "profile-seconds", 8, "length of each CPU profile")
	fs.BoolVar(&o.skipScaffold, "skip-scaffold", false, "do not time scaffold new")
	fs.BoolVar(&o.traced, "traced", false, "add side T: A with every call traced and exported over OTLP to a collector on loopback")
	patch := fs.String("patch", "", "build A from a copy of example-service with these comma-separated patches applied (patch -p1), e.g. patches/x.patch")
	fs.BoolVar(&o.vsShipped, "vs-shipped", false, "make B the unpatched example-service instead of the bare baseline (with -patch)")
	bPatch := fs.String("b-patch", "", "make B a copy of example-service with these patches applied (implies -vs-shipped)")
	serverCPUs := fs.String("server-cpus", "", "CPUs for the server under test, e.g. 1 (default: the last CPU, if there are two or more)")
	loadCPUs := fs.String("load-cpus", "", "CPUs for the load generators (default: all the others)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.rounds < 1 || o.scaffoldRuns < 1 {
		return o, errors.New("-rounds and -scaffold-runs must be at least 1")
	}
	var err error
	if o.patches, err = absList(*patch); err != nil {
		return o, err
	}
	if o.bPatches, err = absList(*bPatch); err != nil {
		return o, err
	}
	o.vsShipped = o.vsShipped || len(o.bPatches) > 0
	// A patch run measures the patch, against B; peers would only lengthen it.
	if *peers != "" && len(o.patches) == 0 {
		for _, p := range strings.Split(*peers, ",") {
			o.peers = append(o.peers, strings.TrimSpace(p))
		}
	}
	// A patched run must not overwrite the committed chart of the shipped one.
	if len(o.patches) > 0 && o.out == "results" {
		o.out = filepath.Join("results", "patched")
	}
	if o.vsShipped && len(o.patches) == 0 {
		return o, errors.New("-vs-shipped and -b-patch need -patch")
	}
	if o.serverCPUs, o.loadCPUs, err = cpuSplit(*serverCPUs, *loadCPUs); err != nil {
		return o, err
	}
	return o, nil
}

// absList splits a comma-separated list of paths and makes each absolute,
// since the patches are applied from another directory.
func absList(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		abs, err := filepath.Abs(strings.TrimSpace(p))
		if err != nil {
			return nil, fmt.Errorf("patch path %q: %w", p, err)
		}
		out = append(out, abs)
	}
	return out, nil
}

// cpuSplit decides where servers and load generators run. With one CPU
// there is nothing to split and neither is pinned.
func cpuSplit(server, load string) (srv, ld []int, err error) {
	n := runtime.NumCPU()
	if srv, err = parseCPUs(server); err != nil {
		return nil, nil, err
	}
	if ld, err = parseCPUs(load); err != nil {
		return nil, nil, err
	}
	if srv == nil && n >= 2 {
		srv = []int{n - 1}
	}
	if ld == nil && srv != nil {
		for c := range n {
			if !containsInt(srv, c) {
				ld = append(ld, c)
			}
		}
	}
	return srv, ld, nil
}

func parseCPUs(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var cpus []int
	for _, f := range strings.Split(s, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 0 {
			return nil, fmt.Errorf("bad CPU list %q", s)
		}
		cpus = append(cpus, c)
	}
	return cpus, nil
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func run(ctx context.Context, args []string) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	if o.repo, err = filepath.Abs(o.repo); err != nil {
		return fmt.Errorf("repository path: %w", err)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", o.out, err)
	}
	if o.redraw {
		return redraw(o)
	}
	if len(o.loadCPUs) > 0 {
		if err := proc.PinSelf(o.loadCPUs); err != nil {
			return err
		}
	}
	work, err := os.MkdirTemp("", "zerodrop-bench-")
	if err != nil {
		return fmt.Errorf("create work dir: %w", err)
	}
	if o.keepWork {
		logf("keeping binaries and server logs in %s", work)
	} else {
		defer os.RemoveAll(work)
	}

	if o.profile {
		return profile(ctx, o, work)
	}
	return benchmark(ctx, o, work)
}

// imageTags returns the build tags that the service in dir builds its image
// with (its Dockerfile's GO_TAGS): A is measured as it ships, and B gets the
// same tags, so that a ratio measures the machinery and not a build option
// that B could take as well.
func imageTags(dir string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	if err != nil {
		return nil, fmt.Errorf("the image's build tags: %w", err)
	}
	m := regexp.MustCompile(`(?m)^ARG GO_TAGS=(.*)$`).FindSubmatch(data)
	if m == nil {
		return nil, nil
	}
	return strings.FieldsFunc(string(m[1]), func(r rune) bool { return r == ',' || r == ' ' }), nil
}

// build compiles pkg in dir into out, stripped and static, the way a release
// image would be built, and returns the binary's size.
func build(ctx context.Context, dir, pkg, out string, tags ...string) (int64, error) {
	args := []string{"build", "-trimpath", "-ldflags=-s -w", "-o", out}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.CommandContext(ctx, "go", append(args, pkg)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if outb, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("go build %s: %w\n%s", pkg, err, outb)
	}
	st, err := os.Stat(out)
	if err != nil {
		return 0, fmt.Errorf("stat %s: %w", out, err)
	}
	return st.Size(), nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}
