package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/zerodrop/zerodrop/bench/internal/load"
	"github.com/zerodrop/zerodrop/bench/internal/proc"
	"github.com/zerodrop/zerodrop/bench/internal/report"
)

// server is one side of the comparison.
type server struct {
	label, bin string
	// args is the command line: every port 0, and the bound addresses
	// reported as JSON to proc.AddrFile.
	args []string
	// readyURL is what answers 200 once the server is ready to serve.
	readyURL func(a addrs) string
}

// addrs is where a server bound its ports, as it reported them.
type addrs struct {
	http   string
	grpc   string
	health string
}

func parseAddrs(line []byte) (addrs, error) {
	var a struct{ HTTP, GRPC, Health string }
	if err := json.Unmarshal(line, &a); err != nil || a.HTTP == "" || a.GRPC == "" {
		return addrs{}, fmt.Errorf("the server reported its addresses as %q: %v", line, err)
	}
	return addrs{http: a.HTTP, grpc: a.GRPC, health: a.Health}, nil
}

// generated is the example-service with every middleware on, as it ships,
// except the drain delay D, which is 0 so that the exit figures measure the
// drain machinery rather than the wait.
func generated(bin string) server {
	return server{
		label: "A", bin: bin,
		args: []string{
			"-http-addr=127.0.0.1:0", "-grpc-addr=127.0.0.1:0", "-health-addr=127.0.0.1:0", "-addr-file=" + proc.AddrFile,
			"-shutdown-delay=0", "-shutdown-timeout=5s",
		},
		readyURL: func(a addrs) string { return "http://" + a.health + "/readyz" },
	}
}

// bare is the baseline; it has no health port, so ready means answering /.
func bare(bin string) server {
	return server{
		label: "B", bin: bin,
		args:     []string{"-http-addr=127.0.0.1:0", "-grpc-addr=127.0.0.1:0", "-addr-file=" + proc.AddrFile},
		readyURL: func(a addrs) string { return "http://" + a.http + "/" },
	}
}

// figures collects every measurement, by figure name and side.
type figures struct {
	byName map[string]*report.Figure
	order  []string
}

func (f *figures) add(name, side string, v float64) {
	fig := f.byName[name]
	if fig == nil {
		panic("unknown figure " + name)
	}
	if side == "A" {
		fig.A = append(fig.A, v)
	} else {
		fig.B = append(fig.B, v)
	}
}

func (f *figures) list() []*report.Figure {
	var out []*report.Figure
	for _, n := range f.order {
		out = append(out, f.byName[n])
	}
	return out
}

// Figure names, in table order.
const (
	figHTTPRate   = "HTTP requests/s on `/`"
	figHTTPP50    = "HTTP p50 latency at full load"
	figHTTPP99    = "HTTP p99 latency at full load"
	figHTTPFixP50 = "HTTP p50 latency at a fixed rate"
	figHTTPFixP99 = "HTTP p99 latency at a fixed rate"
	figHTTPCPU    = "HTTP server CPU per request"
	figHTTPCap    = "HTTP capacity of one server core (1 s ÷ CPU per request)"
	figGRPCRate   = "gRPC SayHello calls/s"
	figGRPCP50    = "gRPC p50 latency at full load"
	figGRPCP99    = "gRPC p99 latency at full load"
	figGRPCFixP50 = "gRPC p50 latency at a fixed rate"
	figGRPCFixP99 = "gRPC p99 latency at a fixed rate"
	figGRPCCPU    = "gRPC server CPU per call"
	figGRPCCap    = "gRPC capacity of one server core (1 s ÷ CPU per call)"
	figReady      = "start to ready"
	figIdleRSS    = "idle RSS"
	figPeakRSS    = "peak RSS (VmHWM) after the loads"
	figExitIdle   = "SIGTERM to exit, idle"
	figExitLoad   = "SIGTERM to exit, under load"
	figStopFailed = "failed requests sent before exit, under load"
	figSize       = "stripped binary size"
	figScaffold   = "`scaffold new` wall time"
)

func newFigures() *figures {
	defs := []*report.Figure{
		{Name: figHTTPRate, Unit: "req/s", Target: report.RatioAtLeast(0.90, "≥ 0.90× B")},
		{Name: figHTTPP50, Unit: "ms", Digits: 2},
		{Name: figHTTPP99, Unit: "ms", Digits: 2, Target: report.RatioAtMost(1.2, "≤ 1.2× B")},
		{Name: figHTTPFixP50, Unit: "ms", Digits: 2},
		{Name: figHTTPFixP99, Unit: "ms", Digits: 2, Target: report.RatioAtMost(1.2, "≤ 1.2× B")},
		{Name: figHTTPCPU, Unit: "µs", Digits: 1},
		{Name: figHTTPCap, Unit: "req/s", Target: report.RatioAtLeast(0.90, "≥ 0.90× B")},
		{Name: figGRPCRate, Unit: "calls/s", Target: report.RatioAtLeast(0.90, "≥ 0.90× B")},
		{Name: figGRPCP50, Unit: "ms", Digits: 2},
		{Name: figGRPCP99, Unit: "ms", Digits: 2, Target: report.RatioAtMost(1.2, "≤ 1.2× B")},
		{Name: figGRPCFixP50, Unit: "ms", Digits: 2},
		{Name: figGRPCFixP99, Unit: "ms", Digits: 2, Target: report.RatioAtMost(1.2, "≤ 1.2× B")},
		{Name: figGRPCCPU, Unit: "µs", Digits: 1},
		{Name: figGRPCCap, Unit: "calls/s", Target: report.RatioAtLeast(0.90, "≥ 0.90× B")},
		{Name: figReady, Unit: "ms", Digits: 1, Target: report.AtMost(50, "≤ 50 ms")},
		{Name: figIdleRSS, Unit: "MiB", Digits: 1, Target: report.AtMost(20, "≤ 20 MiB")},
		{Name: figPeakRSS, Unit: "MiB", Digits: 1},
		{Name: figExitIdle, Unit: "ms", Digits: 1, Target: report.AtMost(50, "≤ 50 ms (D = 0)")},
		{Name: figExitLoad, Unit: "ms", Digits: 1},
		{Name: figStopFailed, Unit: "", Digits: 0},
		{Name: figSize, Unit: "MiB", Digits: 1},
		{Name: figScaffold, Unit: "ms", Digits: 0, Target: report.AtMost(300, "≤ 300 ms")},
	}
	f := &figures{byName: map[string]*report.Figure{}}
	for _, d := range defs {
		f.byName[d.Name] = d
		f.order = append(f.order, d.Name)
	}
	return f
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mibOf(b int64) float64 { return float64(b) / (1 << 20) }

func benchmark(ctx context.Context, o options, work string) error {
	began := time.Now()
	loadBefore := loadAvg()
	figs := newFigures()

	logf("building A (example-service), B (bare) and scaffold")
	binA, binB := filepath.Join(work, "example-service"), filepath.Join(work, "bare")
	shipped := filepath.Join(o.repo, "example-service")
	srcA := shipped
	if len(o.patches) > 0 {
		srcA = filepath.Join(work, "example-service-a")
		if err := patchedCopy(ctx, shipped, o.patches, srcA); err != nil {
			return err
		}
	}
	sizeA, err := build(ctx, srcA, "./cmd/example-service", binA)
	if err != nil {
		return err
	}
	nameA, nameB := "generated service (A)", "bare baseline (B)"
	sideB := bare(binB)
	var sizeB int64
	if o.vsShipped {
		nameA, nameB = "patched: "+patchNames(o.patches)+" (A)", "example-service as shipped (B)"
		srcB := shipped
		if len(o.bPatches) > 0 {
			nameB = "patched: " + patchNames(o.bPatches) + " (B)"
			srcB = filepath.Join(work, "example-service-b")
			if err := patchedCopy(ctx, shipped, o.bPatches, srcB); err != nil {
				return err
			}
		}
		sizeB, err = build(ctx, srcB, "./cmd/example-service", binB)
		sideB = generated(binB)
		sideB.label = "B"
	} else {
		sizeB, err = build(ctx, filepath.Join(o.repo, "bench"), "./cmd/bare", binB)
	}
	if err != nil {
		return err
	}
	figs.add(figSize, "A", mibOf(sizeA))
	figs.add(figSize, "B", mibOf(sizeB))
	// Others may regenerate example-service while this runs; keep a copy.
	proto := filepath.Join(work, "exampleservice.proto")
	if err := copyFile(filepath.Join(o.repo, "example-service", "api", "exampleservice", "v1", "exampleservice.proto"), proto); err != nil {
		return err
	}

	sides := []server{generated(binA), sideB}
	for round := 1; round <= o.rounds; round++ {
		for _, s := range sides {
			if err := ctx.Err(); err != nil {
				return err
			}
			logf("round %d/%d: %s", round, o.rounds, s.label)
			logs := filepath.Join(work, fmt.Sprintf("%s-%d", s.label, round))
			if err := measureLoad(ctx, o, s, proto, logs, figs); err != nil {
				return fmt.Errorf("round %d, %s: %w", round, s.label, err)
			}
			if err := measureShutdown(ctx, o, s, proto, logs, figs); err != nil {
				return fmt.Errorf("round %d, %s shutdown: %w", round, s.label, err)
			}
		}
	}
	if !o.skipScaffold {
		if err := measureScaffold(ctx, o, work, figs); err != nil {
			return err
		}
	}

	m := describeMachine(o, began, loadBefore, loadAvg(), time.Since(began))
	table := report.Table(figs.list(), nameA, nameB)
	fmt.Println(m + "\n" + table)
	if err := writeRaw(filepath.Join(o.out, "results.json"), figs.list()); err != nil {
		return err
	}
	chart := filepath.Join(o.out, "chart.png")
	if err := drawChart(chart, figs, nameA, nameB, o.fixedHTTPRate, o.fixedGRPCRate); err != nil {
		return err
	}
	logf("wrote %s", chart)
	if o.doc != "" {
		if err := report.Splice(o.doc, m+"\n"+table); err != nil {
			return err
		}
		logf("updated %s", o.doc)
	}
	return nil
}

// loadFigs names the figures one protocol's load run feeds.
type loadFigs struct{ proto, rate, p50, p99, cpu, capacity string }

var (
	httpFigs = loadFigs{"HTTP", figHTTPRate, figHTTPP50, figHTTPP99, figHTTPCPU, figHTTPCap}
	grpcFigs = loadFigs{"gRPC", figGRPCRate, figGRPCP50, figGRPCP99, figGRPCCPU, figGRPCCap}
)

// record adds one run's figures; cpu is the server CPU time the run took.
func (lf loadFigs) record(figs *figures, side string, r load.Result, cpu time.Duration) {
	if r.Failed > 0 {
		logf("  %s %s: %d of %d failed: %v", side, lf.proto, r.Failed, r.Requests, r.Errors)
	}
	per := perCall(cpu, r.Requests)
	figs.add(lf.rate, side, r.Rate)
	figs.add(lf.p50, side, ms(r.P50))
	figs.add(lf.p99, side, ms(r.P99))
	figs.add(lf.cpu, side, per)
	if per > 0 {
		figs.add(lf.capacity, side, 1e6/per)
	}
	logf("  %s %.0f/s p50 %.2f ms p99 %.2f ms, server CPU %.1f µs each", lf.proto, r.Rate, ms(r.P50), ms(r.P99), per)
}

func fixedLatency(figs *figures, side, proto string, r load.Result, p50, p99 string) {
	if r.Failed > 0 {
		logf("  %s %s at a fixed rate: %d of %d failed: %v", side, proto, r.Failed, r.Requests, r.Errors)
	}
	figs.add(p50, side, ms(r.P50))
	figs.add(p99, side, ms(r.P99))
	logf("  %s at %.0f/s: p50 %.2f ms p99 %.2f ms", proto, r.Rate, ms(r.P50), ms(r.P99))
}

// startReady starts s on loopback ports that the kernel picks, pinned to the
// server CPUs, and waits until it is ready; it returns the time that took.
// On error nothing is left running.
func startReady(ctx context.Context, o options, s server, logPath string, env []string) (*proc.Process, addrs, time.Duration, error) {
	p, err := proc.StartEnv(s.bin, s.args, env, o.serverCPUs, logPath)
	if err != nil {
		return nil, addrs{}, 0, err
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	line, err := p.Addrs(rctx)
	var a addrs
	if err == nil {
		a, err = parseAddrs(line)
	}
	var ready time.Duration
	if err == nil {
		ready, err = p.WaitReady(rctx, s.readyURL(a))
	}
	if err != nil {
		p.Kill()
		return nil, a, 0, err
	}
	return p, a, ready, nil
}

// measureLoad starts s, times its start, reads idle memory, runs the HTTP and
// gRPC loads at full speed, reads peak memory, then stops it while idle.
// Its server's log goes to logs + "-load.log".
func measureLoad(ctx context.Context, o options, s server, proto, logs string, figs *figures) error {
	p, a, ready, err := startReady(ctx, o, s, logs+"-load.log", nil)
	if err != nil {
		return err
	}
	defer p.Kill()
	figs.add(figReady, s.label, ms(ready))

	time.Sleep(o.idleSettle)
	mem, err := p.Memory()
	if err != nil {
		return err
	}
	figs.add(figIdleRSS, s.label, mibOf(mem.RSS))

	cpu0, err := p.CPUTime()
	if err != nil {
		return err
	}
	h := load.HTTP{URL: "http://" + a.http + "/", Connections: o.conns, Duration: o.httpDur}.Run()
	cpu1, err := p.CPUTime()
	if err != nil {
		return err
	}
	httpFigs.record(figs, s.label, h, cpu1-cpu0)

	g, err := load.GRPC{
		Addr: a.grpc, Proto: proto, Concurrency: o.grpcConc, Connections: o.grpcConns, Duration: o.grpcDur,
	}.Run()
	if err != nil {
		return err
	}
	cpu2, err := p.CPUTime()
	if err != nil {
		return err
	}
	grpcFigs.record(figs, s.label, g, cpu2-cpu1)

	// Latency below saturation, where queueing in the load generator no
	// longer dominates it.
	hf := load.HTTP{URL: "http://" + a.http + "/", Connections: o.conns, Rate: o.fixedHTTPRate, Duration: o.fixedDur}.Run()
	fixedLatency(figs, s.label, "HTTP", hf, figHTTPFixP50, figHTTPFixP99)
	gf, err := load.GRPC{
		Addr: a.grpc, Proto: proto, Concurrency: o.grpcConc, Connections: o.grpcConns, Rate: o.fixedGRPCRate, Duration: o.fixedDur,
	}.Run()
	if err != nil {
		return err
	}
	fixedLatency(figs, s.label, "gRPC", gf, figGRPCFixP50, figGRPCFixP99)

	if mem, err = p.Memory(); err != nil {
		return err
	}
	figs.add(figPeakRSS, s.label, mibOf(mem.Peak))

	// Let the load's connections close, so that this is the idle exit.
	time.Sleep(o.idleSettle)
	exit, _, err := p.Terminate(10 * time.Second)
	if err != nil {
		return err
	}
	figs.add(figExitIdle, s.label, ms(exit))
	return nil
}

// measureShutdown starts s afresh, puts it under a steady HTTP and gRPC load,
// sends SIGTERM part-way through, and counts the requests sent before the
// process was gone that failed. Requests sent after it was gone fail too,
// since nothing here routes them elsewhere; they are not counted.
// Its server's log goes to logs + "-shutdown.log".
func measureShutdown(ctx context.Context, o options, s server, proto, logs string, figs *figures) error {
	p, a, _, err := startReady(ctx, o, s, logs+"-shutdown.log", nil)
	if err != nil {
		return err
	}
	defer p.Kill()

	var (
		wg      sync.WaitGroup
		h, g    load.Result
		grpcErr error
	)
	wg.Go(func() {
		h = load.HTTP{URL: "http://" + a.http + "/", Connections: o.conns, Rate: o.stopRate, Duration: o.stopLoad, KeepCalls: true}.Run()
	})
	wg.Go(func() {
		g, grpcErr = load.GRPC{
			Addr: a.grpc, Proto: proto, Concurrency: o.grpcConc, Connections: o.grpcConns,
			Rate: o.stopRate, Duration: o.stopLoad, KeepCalls: true,
		}.Run()
	})
	time.Sleep(o.stopAfter)
	exit, exited, termErr := p.Terminate(10 * time.Second)
	wg.Wait()
	if termErr != nil {
		return termErr
	}
	if grpcErr != nil {
		return grpcErr
	}
	hf, gf := failedBefore(h.Calls, exited), failedBefore(g.Calls, exited)
	figs.add(figExitLoad, s.label, ms(exit))
	figs.add(figStopFailed, s.label, float64(hf+gf))
	logf("  exit under load %.1f ms; failed before exit: %d HTTP %v, %d gRPC %v", ms(exit), hf, h.Errors, gf, g.Errors)
	return nil
}

func failedBefore(calls []load.Call, t time.Time) int {
	n := 0
	for _, c := range calls {
		if c.Failed && c.Sent.Before(t) {
			n++
		}
	}
	return n
}

func perCall(cpu time.Duration, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(cpu) / float64(time.Microsecond) / float64(n)
}

// measureScaffold builds scaffold once, runs it once untimed so that the
// module cache and the build cache hold everything it needs, then times
// o.scaffoldRuns runs into fresh directories. scaffold is not pinned: this
// is the wall time a user sees, with every CPU.
func measureScaffold(ctx context.Context, o options, work string, figs *figures) error {
	bin := filepath.Join(work, "scaffold")
	if _, err := build(ctx, o.repo, "./cmd/scaffold", bin); err != nil {
		return err
	}
	all := make([]int, runtime.NumCPU())
	for i := range all {
		all[i] = i
	}
	for i := 0; i <= o.scaffoldRuns; i++ {
		dir := filepath.Join(work, fmt.Sprintf("svc%d", i))
		name := fmt.Sprintf("bench-svc%d", i)
		p, err := proc.Start(bin, []string{"new", name, "--module", "example.com/" + name, "-o", dir}, all, filepath.Join(work, "scaffold.log"))
		if err != nil {
			return err
		}
		took, err := p.Wait(ctx, 2*time.Minute)
		if err != nil {
			return fmt.Errorf("scaffold new: %w", err)
		}
		if i > 0 {
			figs.add(figScaffold, "A", ms(took))
		}
		_ = os.RemoveAll(dir)
	}
	return nil
}

// drawChart plots throughput and latency, A against B.
func drawChart(path string, figs *figures, nameA, nameB string, fixedHTTP, fixedGRPC int) error {
	f := figs.byName
	panels := []report.Panel{
		{Title: "Throughput, measured", Legend: true, YLabel: "per second", Figures: []*report.Figure{f[figHTTPRate], f[figGRPCRate]}, Labels: []string{"HTTP req/s", "gRPC calls/s"}},
		{Title: "Capacity of one server core", YLabel: "per second", Figures: []*report.Figure{f[figHTTPCap], f[figGRPCCap]}, Labels: []string{"HTTP req/s", "gRPC calls/s"}},
		{Title: "Server CPU per request", YLabel: "µs", Figures: []*report.Figure{f[figHTTPCPU], f[figGRPCCPU]}, Labels: []string{"HTTP", "gRPC"}},
		{Title: "Memory", YLabel: "MiB", Figures: []*report.Figure{f[figIdleRSS], f[figPeakRSS]}, Labels: []string{"idle RSS", "peak RSS"}},
		{Title: "HTTP latency at full load", YLabel: "ms", Figures: []*report.Figure{f[figHTTPP50], f[figHTTPP99]}, Labels: []string{"p50", "p99"}},
		{Title: fmt.Sprintf("HTTP latency at %d req/s", fixedHTTP), YLabel: "ms", Figures: []*report.Figure{f[figHTTPFixP50], f[figHTTPFixP99]}, Labels: []string{"p50", "p99"}},
		{Title: "gRPC latency at full load", YLabel: "ms", Figures: []*report.Figure{f[figGRPCP50], f[figGRPCP99]}, Labels: []string{"p50", "p99"}},
		{Title: fmt.Sprintf("gRPC latency at %d calls/s", fixedGRPC), YLabel: "ms", Figures: []*report.Figure{f[figGRPCFixP50], f[figGRPCFixP99]}, Labels: []string{"p50", "p99"}},
	}
	title := nameA + " vs " + nameB + ": bars are medians, whiskers min–max"
	return report.Chart(path, title, nameA, nameB, panels, 4)
}

// writeRaw keeps every sample, for anyone who wants more than medians.
// rawFigure is one figure's samples as results.json keeps them.
type rawFigure struct {
	Name, Unit string
	A, B       []float64
}

func writeRaw(path string, figs []*report.Figure) error {
	var rs []rawFigure
	for _, f := range figs {
		rs = append(rs, rawFigure{f.Name, f.Unit, f.A, f.B})
	}
	data, err := json.MarshalIndent(rs, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}

// redraw draws the chart again from the samples of an earlier run, so that
// a change to the chart does not need a new run.
func redraw(o options) error {
	path := filepath.Join(o.out, "results.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read results: %w", err)
	}
	var rs []rawFigure
	if err := json.Unmarshal(data, &rs); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	figs := newFigures()
	for _, r := range rs {
		if f := figs.byName[r.Name]; f != nil {
			f.A, f.B = r.A, r.B
		}
	}
	chart := filepath.Join(o.out, "chart.png")
	if err := drawChart(chart, figs, "generated service (A)", "bare baseline (B)", o.fixedHTTPRate, o.fixedGRPCRate); err != nil {
		return err
	}
	logf("wrote %s from %s", chart, path)
	return nil
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	return nil
}

// patchedCopy copies the example-service at src to dst and applies the
// patches to the copy in order; the original is never touched.
func patchedCopy(ctx context.Context, src string, patches []string, dst string) error {
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		return fmt.Errorf("copy example-service: %w", err)
	}
	for _, p := range patches {
		out, err := exec.CommandContext(ctx, "patch", "-p1", "-d", dst, "-i", p).CombinedOutput()
		if err != nil {
			return fmt.Errorf("apply %s: %w\n%s", p, err, out)
		}
	}
	return nil
}

func patchNames(patches []string) string {
	names := make([]string, len(patches))
	for i, p := range patches {
		names[i] = filepath.Base(p)
	}
	return strings.Join(names, " + ")
}
