package report

import (
	"compress/gzip"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/zerodrop/zerodrop/test/e2e/internal/load"
)

// synthetic is a two-phase run: a steady phase on 0.1.0, then a rollout to
// 0.2.0 with three failures in its middle.
func synthetic() (*Scenario, []load.Sample) {
	sc := &Scenario{
		Name:    "synthetic",
		Clients: []load.Info{{Name: "h", Protocol: "http", Rate: 100}, {Name: "g", Protocol: "grpc", Rate: 100}},
		Phases: []Phase{
			{Name: "steady", Kind: "steady", End: 10 * time.Second, FromVersion: "0.1.0", ToVersion: "0.1.0"},
			{Name: "version", Kind: "version", Start: 10 * time.Second, End: 20 * time.Second, FromVersion: "0.1.0", ToVersion: "0.2.0"},
		},
		Duration: 20 * time.Second,
	}
	var samples []load.Sample
	for i := range 2000 {
		at := time.Duration(i) * 10 * time.Millisecond
		s := load.Sample{Client: i % 2, At: at, Latency: time.Millisecond, OK: true, Version: "0.1.0"}
		if at >= 15*time.Second {
			s.Version = "0.2.0"
		}
		if i >= 1500 && i < 1506 && i%2 == 0 {
			s = load.Sample{Client: 0, At: at, Error: "connection refused"}
		}
		samples = append(samples, s)
	}
	return sc, samples
}

func TestFill(t *testing.T) {
	sc, samples := synthetic()
	Fill(sc, samples)
	if sc.Requests != 2000 || sc.Failed != 3 {
		t.Fatalf("requests %d failed %d, want 2000 and 3", sc.Requests, sc.Failed)
	}
	if got := sc.ByProtocol["http"].Failed; got != 3 {
		t.Errorf("http failed %d, want 3", got)
	}
	v := sc.Phases[1]
	if v.Errors["connection refused"] != 3 || v.FailedBy["h"] != 3 {
		t.Errorf("errors %v, failed by %v", v.Errors, v.FailedBy)
	}
	if len(v.FinalVersions) != 1 || v.FinalVersions["0.2.0"] == 0 {
		t.Errorf("final versions %v, want only 0.2.0", v.FinalVersions)
	}
	if h := sc.ByClient[0]; h.Name != "h" || h.Requests != 1000 || h.Failed != 3 || h.SteadyP99 != 1 || h.RolloutP99 != 1 {
		t.Errorf("client h: %+v", h)
	}
	if g := sc.ByClient[1]; g.Requests != 1000 || g.Failed != 0 {
		t.Errorf("client g: %+v", g)
	}
	if sc.Phases[0].P99ms != 1 {
		t.Errorf("steady p99 %v ms, want 1", sc.Phases[0].P99ms)
	}
}

func TestWriteAndTimeline(t *testing.T) {
	sc, samples := synthetic()
	Fill(sc, samples)
	dir := t.TempDir()
	if err := Write(dir, &Run{Scenarios: []*Scenario{sc}, Passed: true}); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "run.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"PASSED", "| version |", "connection refused: 3", "http: 3 failed of 1000", "| h | 1000 | 3 | 1.0 | 1.0 | 1.00× |"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("run.md lacks %q:\n%s", want, md)
		}
	}
	p := filepath.Join(dir, "t.png")
	if err := Timeline(p, sc, samples); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 1200 {
		t.Errorf("width %d", b.Dx())
	}
}

func TestWriteSamples(t *testing.T) {
	_, samples := synthetic()
	p := filepath.Join(t.TempDir(), "s.jsonl.gz")
	if err := WriteSamples(p, samples); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(zr)
	var got []load.Sample
	for dec.More() {
		var s load.Sample
		if err := dec.Decode(&s); err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	if !reflect.DeepEqual(got, samples) {
		t.Fatalf("read back %d samples, not the %d written", len(got), len(samples))
	}
}
