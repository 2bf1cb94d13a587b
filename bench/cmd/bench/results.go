package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/zerodrop/zerodrop/bench/internal/report"
)

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
