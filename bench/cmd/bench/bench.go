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
	fig.Add(side, v)
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
	figHTTPFixCPU = "HTTP server CPU per request at a fixed rate"
	figHTTPCPU    = "HTTP server CPU per request"
	figHTTPCap    = "HTTP capacity of one server core (1 s ÷ CPU per request)"
	figGRPCRate   = "gRPC SayHello calls/s"
	figGRPCP50    = "gRPC p50 latency at full load"
	figGRPCP99    = "gRPC p99 latency at full load"
	figGRPCFixP50 = "gRPC p50 latency at a fixed rate"
	figGRPCFixP99 = "gRPC p99 latency at a fixed rate"
	figGRPCFixCPU = "gRPC server CPU per call at a fixed rate"
	figGRPCCPU    = "gRPC server CPU per call"
	figGRPCCap    = "gRPC capacity of one server core (1 s ÷ CPU per call)"
	figReady      = "start to ready"
	figIdleRSS    = "idle RSS"
	figPeakRSS    = "peak RSS (VmHWM) after the loads"
	figExitIdle   = "SIGTERM to exit, idle"
	figExitLoad   = "SIGTERM to exit, under load"
	figStopFailed = "failed requests sent before exit, under load"
	figLost       = "requests lost on kept-alive connections when load continues past SIGTERM"
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
		{Name: figHTTPFixCPU, Unit: "µs", Digits: 1},
		{Name: figHTTPCPU, Unit: "µs", Digits: 1},
		{Name: figHTTPCap, Unit: "req/s", Target: report.RatioAtLeast(0.90, "≥ 0.90× B")},
		{Name: figGRPCRate, Unit: "calls/s", Target: report.RatioAtLeast(0.90, "≥ 0.90× B")},
		{Name: figGRPCP50, Unit: "ms", Digits: 2},
		{Name: figGRPCP99, Unit: "ms", Digits: 2, Target: report.RatioAtMost(1.2, "≤ 1.2× B")},
		{Name: figGRPCFixP50, Unit: "ms", Digits: 2},
		{Name: figGRPCFixP99, Unit: "ms", Digits: 2, Target: report.RatioAtMost(1.2, "≤ 1.2× B")},
		{Name: figGRPCFixCPU, Unit: "µs", Digits: 1},
		{Name: figGRPCCPU, Unit: "µs", Digits: 1},
		{Name: figGRPCCap, Unit: "calls/s", Target: report.RatioAtLeast(0.90, "≥ 0.90× B")},
		{Name: figReady, Unit: "ms", Digits: 1, Target: report.AtMost(50, "≤ 50 ms")},
		{Name: figIdleRSS, Unit: "MiB", Digits: 1, Target: report.AtMost(20, "≤ 20 MiB")},
		{Name: figPeakRSS, Unit: "MiB", Digits: 1},
		{Name: figExitIdle, Unit: "ms", Digits: 1, Target: report.AtMost(50, "≤ 50 ms (D = 0)")},
		{Name: figExitLoad, Unit: "ms", Digits: 1},
		{Name: figStopFailed, Unit: "", Digits: 0},
		{Name: figLost, Unit: "", Digits: 0, Target: report.AtMost(0, "0")},
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
	// Others may regenerate example-service while this runs; keep a copy.
	proto := filepath.Join(work, "exampleservice.proto")
	if err := copyFile(filepath.Join(o.repo, "example-service", "api", "exampleservice", "v1", "exampleservice.proto"), proto); err != nil {
		return err
	}
	sayHello := load.SayHello(proto)
	sideA := generated(binA).withRPC(sayHello)
	sideB := bare(binB).withRPC(sayHello)
	var sizeB int64
	if o.vsShipped {
		sideA.Name = "patched: " + patchNames(o.patches) + " (A)"
		srcB := shipped
		nameB := "example-service as shipped (B)"
		if len(o.bPatches) > 0 {
			nameB = "patched: " + patchNames(o.bPatches) + " (B)"
			srcB = filepath.Join(work, "example-service-b")
			if err := patchedCopy(ctx, shipped, o.bPatches, srcB); err != nil {
				return err
			}
		}
		sizeB, err = build(ctx, srcB, "./cmd/example-service", binB)
		sideB = generated(binB).withRPC(sayHello)
		sideB.Label, sideB.Name = "B", nameB
	} else {
		sizeB, err = build(ctx, filepath.Join(o.repo, "bench"), "./cmd/bare", binB)
	}
	if err != nil {
		return err
	}
	figs.add(figSize, "A", mibOf(sizeA))
	figs.add(figSize, "B", mibOf(sizeB))
	sides := []server{sideA, sideB}
	peers, peerSizes, err := buildPeers(ctx, o, work, sayHello)
	if err != nil {
		return err
	}
	for i, p := range peers {
		figs.add(figSize, p.Label, mibOf(peerSizes[i]))
		sides = append(sides, p)
	}

	for round := 1; round <= o.rounds; round++ {
		for _, s := range roundOrder(sides, round) {
			if err := ctx.Err(); err != nil {
				return err
			}
			logf("round %d/%d: %s", round, o.rounds, s.Name)
			logs := filepath.Join(work, fmt.Sprintf("%s-%d", s.Label, round))
			if err := measureLoad(ctx, o, s, logs, figs); err != nil {
				return fmt.Errorf("round %d, %s: %w", round, s.Label, err)
			}
			if err := measureShutdown(ctx, o, s, logs, figs); err != nil {
				return fmt.Errorf("round %d, %s shutdown: %w", round, s.Label, err)
			}
			if err := measureLoss(ctx, o, s, logs, figs); err != nil {
				return fmt.Errorf("round %d, %s loss past SIGTERM: %w", round, s.Label, err)
			}
		}
	}
	if !o.skipScaffold {
		if err := measureScaffold(ctx, o, work, figs); err != nil {
			return err
		}
	}

	reportSides := make([]report.Side, len(sides))
	for i, s := range sides {
		reportSides[i] = s.Side
	}
	m := describeMachine(o, sides, began, loadBefore, loadAvg(), time.Since(began))
	table := report.Table(figs.list(), reportSides)
	fmt.Println(m + "\n" + table)
	if err := writeRaw(filepath.Join(o.out, "results.json"), reportSides, figs.list()); err != nil {
		return err
	}
	chart := filepath.Join(o.out, "chart.png")
	if err := drawChart(chart, figs, reportSides, o.fixedHTTPRate, o.fixedGRPCRate); err != nil {
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

// roundOrder is the order in which the sides run in round (from 1): each
// round starts one side later than the one before, so that every side runs
// first, second and so on equally often over as many rounds as there are
// sides. A fixed order gave the side that always ran first a handicap of
// its own in the full-load figures (an A/A control of the same binary on
// both sides came out at 1.11-1.16x), which was the driver's state after
// the previous side's loads, not the servers'.
func roundOrder(sides []server, round int) []server {
	n := len(sides)
	order := make([]server, 0, n)
	for i := range n {
		order = append(order, sides[(round-1+i)%n])
	}
	return order
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

// fixedFigs names the figures one protocol's fixed-rate run feeds.
type fixedFigs struct{ p50, p99, cpu string }

// fixedLatency adds one fixed-rate run's figures; cpu is the server CPU time
// the run took.
func fixedLatency(figs *figures, side, proto string, r load.Result, cpu time.Duration, ff fixedFigs) {
	if r.Failed > 0 {
		logf("  %s %s at a fixed rate: %d of %d failed: %v", side, proto, r.Failed, r.Requests, r.Errors)
	}
	per := perCall(cpu, r.Requests)
	figs.add(ff.p50, side, ms(r.P50))
	figs.add(ff.p99, side, ms(r.P99))
	figs.add(ff.cpu, side, per)
	logf("  %s at %.0f/s: p50 %.2f ms p99 %.2f ms, server CPU %.1f µs each", proto, r.Rate, ms(r.P50), ms(r.P99), per)
}

// startReady starts s on loopback ports that the kernel picks (or, for a
// server on fixed ports, that fixedPorts drew), pinned to the server CPUs,
// with extra added to its command line, and waits until it is ready; it
// returns the time that took. On error nothing is left running.
func startReady(ctx context.Context, o options, s server, extra []string, logPath string, env []string) (*proc.Process, addrs, time.Duration, error) {
	// A fixed port another program holds fails the start; draw again.
	const attempts = 5
	for attempt := 1; ; attempt++ {
		args, fixed := s.command(extra)
		p, a, ready, err := startOnce(ctx, o, s, args, fixed, logPath, env)
		if err == nil || fixed == nil || attempt == attempts || !portTaken(logPath) {
			return p, a, ready, err
		}
		logf("  %s: a fixed port was taken (%v); drawing others", s.Label, err)
	}
}

func startOnce(ctx context.Context, o options, s server, args []string, fixed *addrs, logPath string, env []string) (*proc.Process, addrs, time.Duration, error) {
	p, err := proc.StartEnv(s.bin, args, env, o.serverCPUs, logPath)
	if err != nil {
		return nil, addrs{}, 0, err
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var a addrs
	if fixed != nil {
		a = *fixed
		p.NoAddrs()
	} else {
		var line []byte
		if line, err = p.Addrs(rctx); err == nil {
			a, err = parseAddrs(line)
		}
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

// portTaken reports whether the server's log says it could not bind a port.
// podinfo logs "failed to listen" for its gRPC port and the bind error for
// its HTTP port.
func portTaken(logPath string) bool {
	data, err := os.ReadFile(logPath)
	if err != nil {
		return false
	}
	return strings.Contains(string(data), "address already in use") || strings.Contains(string(data), "failed to listen")
}

// measureLoad starts s, times its start, reads idle memory, runs the HTTP and
// gRPC loads at full speed, reads peak memory, then stops it while idle.
// Its server's log goes to logs + "-load.log".
func measureLoad(ctx context.Context, o options, s server, logs string, figs *figures) error {
	p, a, ready, err := startReady(ctx, o, s, nil, logs+"-load.log", nil)
	if err != nil {
		return err
	}
	defer p.Kill()
	figs.add(figReady, s.Label, ms(ready))

	time.Sleep(o.idleSettle)
	mem, err := p.Memory()
	if err != nil {
		return err
	}
	figs.add(figIdleRSS, s.Label, mibOf(mem.RSS))

	cpu0, err := p.CPUTime()
	if err != nil {
		return err
	}
	h := load.HTTP{URL: "http://" + a.http + "/", Connections: o.conns, Duration: o.httpDur}.Run()
	cpu1, err := p.CPUTime()
	if err != nil {
		return err
	}
	httpFigs.record(figs, s.Label, h, cpu1-cpu0)

	g, err := load.GRPC{
		Addr: a.grpc, RPC: s.rpc, Concurrency: o.grpcConc, Connections: o.grpcConns, Duration: o.grpcDur,
	}.Run()
	if err != nil {
		return err
	}
	cpu2, err := p.CPUTime()
	if err != nil {
		return err
	}
	grpcFigs.record(figs, s.Label, g, cpu2-cpu1)

	// Latency below saturation, where queueing in the load generator no
	// longer dominates it; and the CPU per request when every side gets the
	// same arrivals, which a closed loop at full speed does not give them.
	hf := load.HTTP{URL: "http://" + a.http + "/", Connections: o.conns, Rate: o.fixedHTTPRate, Duration: o.fixedDur}.Run()
	cpu3, err := p.CPUTime()
	if err != nil {
		return err
	}
	fixedLatency(figs, s.Label, "HTTP", hf, cpu3-cpu2, fixedFigs{figHTTPFixP50, figHTTPFixP99, figHTTPFixCPU})
	gf, err := load.GRPC{
		Addr: a.grpc, RPC: s.rpc, Concurrency: o.grpcConc, Connections: o.grpcConns, Rate: o.fixedGRPCRate, Duration: o.fixedDur,
	}.Run()
	if err != nil {
		return err
	}
	cpu4, err := p.CPUTime()
	if err != nil {
		return err
	}
	fixedLatency(figs, s.Label, "gRPC", gf, cpu4-cpu3, fixedFigs{figGRPCFixP50, figGRPCFixP99, figGRPCFixCPU})

	if mem, err = p.Memory(); err != nil {
		return err
	}
	figs.add(figPeakRSS, s.Label, mibOf(mem.Peak))

	// Let the load's connections close, so that this is the idle exit.
	time.Sleep(o.idleSettle)
	exit, _, err := p.Terminate(o.exitLimit)
	if err != nil {
		return err
	}
	figs.add(figExitIdle, s.Label, ms(exit))
	return nil
}

// measureShutdown starts s afresh, puts it under a steady HTTP and gRPC load,
// sends SIGTERM part-way through, and counts the requests sent before the
// process was gone that failed. Requests sent after it was gone fail too,
// since nothing here routes them elsewhere; they are not counted.
// Its server's log goes to logs + "-shutdown.log".
func measureShutdown(ctx context.Context, o options, s server, logs string, figs *figures) error {
	p, a, _, err := startReady(ctx, o, s, nil, logs+"-shutdown.log", nil)
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
			Addr: a.grpc, RPC: s.rpc, Concurrency: o.grpcConc, Connections: o.grpcConns,
			Rate: o.stopRate, Duration: o.stopLoad, KeepCalls: true,
		}.Run()
	})
	time.Sleep(o.stopAfter)
	exit, exited, termErr := p.Terminate(o.exitLimit)
	wg.Wait()
	if termErr != nil {
		return termErr
	}
	if grpcErr != nil {
		return grpcErr
	}
	hf, gf := failedBefore(h.Calls, exited), failedBefore(g.Calls, exited)
	figs.add(figExitLoad, s.Label, ms(exit))
	figs.add(figStopFailed, s.Label, float64(hf+gf))
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

// measureLoss starts s afresh with its drain delay (drainArgs), puts it
// under a steady HTTP load on kept-alive connections that never retry,
// sends SIGTERM part-way through, and keeps the load going until well after
// the process is gone, past D and the drain. It records the requests lost on
// connections the server had kept alive: the ones a client cannot know were
// never read. Requests refused on new connections once the listener closed
// are logged, not counted: in a cluster D and endpoint removal send those
// elsewhere, and here nothing can.
// Its server's log goes to logs + "-loss.log".
func measureLoss(ctx context.Context, o options, s server, logs string, figs *figures) error {
	p, a, _, err := startReady(ctx, o, s, s.drainArgs, logs+"-loss.log", nil)
	if err != nil {
		return err
	}
	defer p.Kill()
	run := load.KeepAlive{Addr: a.http, Path: "/", Connections: o.conns, Rate: o.stopRate, Timeout: 2 * time.Second}.Start()
	time.Sleep(o.stopAfter)
	exit, _, termErr := p.Terminate(o.exitLimit)
	// Every connection sends several more requests after the exit.
	time.Sleep(o.lossTail)
	r := run.Stop()
	if termErr != nil {
		return termErr
	}
	figs.add(figLost, s.Label, float64(r.Lost))
	logf("  past SIGTERM (%s; exit after %.0f ms): %d lost on kept-alive connections; %d answered, %d closed by Connection: close, %d failed on new connections %v",
		s.drain, ms(exit), r.Lost, r.Answered, r.Closed, r.FreshFailed, r.Errors)
	return nil
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

// drawChart plots throughput, cost, memory, start-up, loss and latency, a
// bar for every side.
func drawChart(path string, figs *figures, sides []report.Side, fixedHTTP, fixedGRPC int) error {
	f := figs.byName
	panels := []report.Panel{
		{Title: "Throughput, measured", Legend: true, YLabel: "per second", Figures: []*report.Figure{f[figHTTPRate], f[figGRPCRate]}, Labels: []string{"HTTP req/s", "gRPC calls/s"}},
		{Title: "Capacity of one server core", YLabel: "per second", Figures: []*report.Figure{f[figHTTPCap], f[figGRPCCap]}, Labels: []string{"HTTP req/s", "gRPC calls/s"}},
		{Title: "Server CPU per request, full load", YLabel: "µs", Figures: []*report.Figure{f[figHTTPCPU], f[figGRPCCPU]}, Labels: []string{"HTTP", "gRPC"}},
		{Title: fmt.Sprintf("Server CPU per request at %d req/s, %d calls/s", fixedHTTP, fixedGRPC), YLabel: "µs",
			Figures: []*report.Figure{f[figHTTPFixCPU], f[figGRPCFixCPU]}, Labels: []string{"HTTP", "gRPC"}},
		{Title: "Memory", YLabel: "MiB", Figures: []*report.Figure{f[figIdleRSS], f[figPeakRSS], f[figSize]}, Labels: []string{"idle RSS", "peak RSS", "binary"}},
		{Title: "HTTP latency at full load", YLabel: "ms", Figures: []*report.Figure{f[figHTTPP50], f[figHTTPP99]}, Labels: []string{"p50", "p99"}},
		{Title: fmt.Sprintf("HTTP latency at %d req/s", fixedHTTP), YLabel: "ms", Figures: []*report.Figure{f[figHTTPFixP50], f[figHTTPFixP99]}, Labels: []string{"p50", "p99"}},
		{Title: "gRPC latency at full load", YLabel: "ms", Figures: []*report.Figure{f[figGRPCP50], f[figGRPCP99]}, Labels: []string{"p50", "p99"}},
		{Title: fmt.Sprintf("gRPC latency at %d calls/s", fixedGRPC), YLabel: "ms", Figures: []*report.Figure{f[figGRPCFixP50], f[figGRPCFixP99]}, Labels: []string{"p50", "p99"}},
		{Title: "Start to ready", YLabel: "ms", Figures: []*report.Figure{f[figReady]}, Labels: []string{"fork to first ready answer"}},
		{Title: "Requests lost past SIGTERM", YLabel: "requests", Figures: []*report.Figure{f[figLost]}, Labels: []string{"on kept-alive connections"}},
	}
	title := "Every side in one run: bars are medians, whiskers min–max"
	return report.Chart(path, title, sides, panels, 4)
}

// rawResults is what results.json keeps: every sample of every side, for
// anyone who wants more than medians, and for -redraw.
type rawResults struct {
	Sides   []report.Side
	Figures []rawFigure
}

// rawFigure is one figure's samples, by side label.
type rawFigure struct {
	Name, Unit string
	Values     map[string][]float64
}

func writeRaw(path string, sides []report.Side, figs []*report.Figure) error {
	rs := rawResults{Sides: sides}
	for _, f := range figs {
		rs.Figures = append(rs.Figures, rawFigure{f.Name, f.Unit, f.Values})
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
	var rs rawResults
	if err := json.Unmarshal(data, &rs); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	figs := newFigures()
	for _, r := range rs.Figures {
		if f := figs.byName[r.Name]; f != nil {
			f.Values = r.Values
		}
	}
	chart := filepath.Join(o.out, "chart.png")
	if err := drawChart(chart, figs, rs.Sides, o.fixedHTTPRate, o.fixedGRPCRate); err != nil {
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
