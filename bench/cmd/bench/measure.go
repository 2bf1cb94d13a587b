package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/zerodrop/zerodrop/bench/internal/load"
	"github.com/zerodrop/zerodrop/bench/internal/proc"
)

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

// measureLoad starts s, times its start, reads idle memory, runs the HTTP and
// gRPC loads at full speed, reads peak memory, then stops it while idle.
// Its server's log goes to logs + "-load.log".
func measureLoad(ctx context.Context, o options, s server, logs string, figs *figures) error {
	p, a, ready, err := startReady(ctx, o, s, nil, logs+"-load.log", s.env)
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
	p, a, _, err := startReady(ctx, o, s, nil, logs+"-shutdown.log", s.env)
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
	p, a, _, err := startReady(ctx, o, s, s.drainArgs, logs+"-loss.log", s.env)
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
