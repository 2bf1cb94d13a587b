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
	Fill(sc, samples, nil, nil)
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

// TestTiers: in a phase on the edge, which relays to the core, the
// versions that count are the edge pods', seen only through the edge; a
// failure names the tier and path its client entered by and the pod it
// reached; and the paths are totalled.
func TestTiers(t *testing.T) {
	sc := &Scenario{
		Name: "tiers",
		Clients: []load.Info{
			{Name: "direct", Protocol: "http", Tier: "core", Path: "clusterip"},
			{Name: "gw", Protocol: "grpc", Tier: "edge", Path: "gateway"},
		},
		Phases: []Phase{
			{Name: "steady", Kind: "steady", End: 10 * time.Second, FromVersion: "0.1.0", ToVersion: "0.1.0"},
			{Name: "edge: version", Kind: "version", Tier: "edge", Relaying: true, Start: 10 * time.Second, End: 20 * time.Second, FromVersion: "0.1.0", ToVersion: "0.2.0"},
		},
		Pods:     map[string]string{"10.217.0.5": "example-edge/edge-a"},
		Duration: 20 * time.Second,
	}
	var samples []load.Sample
	for i := range 2000 {
		at := time.Duration(i) * 10 * time.Millisecond
		s := load.Sample{Client: i % 2, At: at, Latency: time.Millisecond, OK: true, Version: "0.1.0"}
		if s.Client == 1 {
			s.Via, s.ViaVersion = "edge-a", "0.1.0"
			if at >= 15*time.Second {
				s.ViaVersion = "0.2.0"
			}
		}
		if i == 1501 {
			s = load.Sample{Client: 1, At: at, Error: "grpc Unavailable: upstream", Tries: []load.Try{{Peer: "10.217.0.5"}, {Peer: "10.217.0.5"}}}
		}
		samples = append(samples, s)
	}
	Fill(sc, samples, nil, nil)
	v := sc.Phases[1]
	if len(v.FinalVersions) != 1 || v.FinalVersions["0.2.0"] == 0 || v.VersionsSeen["0.1.0"] != 250 {
		t.Errorf("versions seen %v, final %v: want the edge's, 0.1.0 on the 250 relayed answers before the change, not the direct client's 500, then only 0.2.0", v.VersionsSeen, v.FinalVersions)
	}
	want := Failure{Client: "gw", Tier: "edge", Path: "gateway", Error: "grpc Unavailable: upstream", Pods: "example-edge/edge-a"}
	if len(v.Failures) != 1 || v.Failures[want] != 1 {
		t.Errorf("failures %v, want one of %+v", v.Failures, want)
	}
	paths := sc.Paths()
	if len(paths) != 2 || paths[1] != (PathFigures{Tier: "edge", Path: "gateway", Clients: 1, Requests: 1000, Failed: 1}) {
		t.Errorf("paths %+v", paths)
	}
	md := Markdown(&Run{Scenarios: []*Scenario{sc}})
	for _, row := range []string{
		"| edge: version | gw | edge | gateway | grpc Unavailable: upstream | example-edge/edge-a | 1 |",
		"| edge | gateway | 1 | 1000 | 1 | 0 |",
		"| gw | edge, gateway | 1000 | 1 |",
	} {
		if !strings.Contains(md, row) {
			t.Errorf("run.md lacks %q:\n%s", row, md)
		}
	}
}

func TestWriteAndTimeline(t *testing.T) {
	sc, samples := synthetic()
	Fill(sc, samples, nil, nil)
	dir := t.TempDir()
	if err := Write(dir, &Run{Scenarios: []*Scenario{sc}, Passed: true}); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "run.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"PASSED", "| version |", "connection refused: 3", "http: 3 failed of 1000", "| h |  | 1000 | 3 | 0 | 0 | 1.0 | 1.0 | 1.00× |"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("run.md lacks %q:\n%s", want, md)
		}
	}
	p := filepath.Join(dir, "t.png")
	if err := Timeline(p, sc, samples, nil); err != nil {
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

// TestHardKillAndStreams: in a hard kill, only the explained failures of
// clients without retries are expected; a failure of the retrying client, or
// one nothing explains, still counts. Stream events are counted per phase,
// lost and repeated ones apart.
func TestHardKillAndStreams(t *testing.T) {
	sc := &Scenario{
		Clients: []load.Info{{Name: "plain", Protocol: "http"}, {Name: "rr", Protocol: "grpc", Retries: true}, {Name: "w", Protocol: "stream", Retries: true}},
		Phases: []Phase{
			{Name: "steady", Kind: "steady", End: 10 * time.Second},
			{Name: "kill one pod", Kind: KillKind, Start: 10 * time.Second, End: 20 * time.Second},
		},
		Duration: 20 * time.Second,
	}
	at := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	samples := []load.Sample{
		{Client: 0, At: at(1), OK: true, Version: "1", Latency: time.Millisecond},
		{Client: 0, At: at(5), Error: "connection refused"}, // steady: counts
		{Client: 0, At: at(11), Error: "connection refused"},
		{Client: 0, At: at(11), Error: "connection refused"},
		{Client: 0, At: at(12), Error: "timeout"}, // nothing explains it
		{Client: 1, At: at(12), Error: "grpc Unavailable: EOF"},
		{Client: 1, At: at(13), OK: true, Version: "1", Latency: time.Millisecond},
	}
	events := []load.StreamEvent{
		{Client: 2, At: at(2), Kind: load.StreamOK, Seq: 1},
		{Client: 2, At: at(11), Kind: load.StreamResume, Error: "grpc Unavailable: EOF"},
		{Client: 2, At: at(12), Kind: load.StreamOK, Seq: 2, Delay: 900 * time.Millisecond},
		{Client: 2, At: at(13), Kind: load.StreamGap, Seq: 5, Missing: 2},
		{Client: 2, At: at(14), Kind: load.StreamDuplicate, Seq: 5},
	}
	Fill(sc, samples, events, nil)
	kill := sc.Phases[1]
	if kill.Expected != 2 || kill.ExpectedBy["plain: connection refused"] != 2 {
		t.Errorf("expected %d %v, want the 2 refused connections of plain", kill.Expected, kill.ExpectedBy)
	}
	if kill.Failed != 2 || kill.FailedBy["plain"] != 1 || kill.FailedBy["rr"] != 1 {
		t.Errorf("failed %d by %v, want plain's timeout and rr's call", kill.Failed, kill.FailedBy)
	}
	if sc.Failed != 3 || sc.Expected != 2 {
		t.Errorf("scenario failed %d expected %d, want 3 and 2", sc.Failed, sc.Expected)
	}
	if sc.Phases[0].Failed != 1 || sc.Phases[0].Expected != 0 {
		t.Errorf("steady: failed %d expected %d: a failure outside a hard kill is never expected", sc.Phases[0].Failed, sc.Phases[0].Expected)
	}
	want := StreamFigures{Events: 3, Gaps: 2, Duplicates: 1, Resumes: 1, P99DelayMs: 900, MaxDelayMs: 900,
		Errors: map[string]int{"resume: grpc Unavailable: EOF": 1}}
	if !reflect.DeepEqual(kill.Streams, want) {
		t.Errorf("kill streams %+v, want %+v", kill.Streams, want)
	}
	if sc.Streams.Events != 4 || sc.ByClient[2].Streams == nil || sc.ByClient[2].Streams.Events != 4 {
		t.Errorf("stream totals %+v, by client %+v", sc.Streams, sc.ByClient[2].Streams)
	}
	md := Markdown(&Run{Scenarios: []*Scenario{sc}})
	for _, w := range []string{"**kill one pod: expected and explained** (2;", "| plain: connection refused | 2 | a new connection", "Watch streams: 4 events, 2 lost, 1 repeated, 1 resumes"} {
		if !strings.Contains(md, w) {
			t.Errorf("run.md lacks %q:\n%s", w, md)
		}
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
