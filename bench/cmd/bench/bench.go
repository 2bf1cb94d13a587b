package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/zerodrop/zerodrop/bench/internal/load"
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
	tags, err := imageTags(srcA)
	if err != nil {
		return err
	}
	sizeA, err := build(ctx, srcA, "./cmd/example-service", binA, tags...)
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
		var tagsB []string
		if tagsB, err = imageTags(srcB); err == nil {
			sizeB, err = build(ctx, srcB, "./cmd/example-service", binB, tagsB...)
		}
		sideB = generated(binB).withRPC(sayHello)
		sideB.Label, sideB.Name = "B", nameB
	} else {
		sizeB, err = build(ctx, filepath.Join(o.repo, "bench"), "./cmd/bare", binB, tags...)
	}
	if err != nil {
		return err
	}
	figs.add(figSize, "A", mibOf(sizeA))
	figs.add(figSize, "B", mibOf(sizeB))
	sides := []server{sideA, sideB}
	if o.traced {
		sink, err := startSink(ctx)
		if err != nil {
			return err
		}
		defer func() { logf("the trace sink received %d spans", sink.spans.Load()) }()
		sides = append(sides, traced(binA, sink.addr).withRPC(sayHello))
	}
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
