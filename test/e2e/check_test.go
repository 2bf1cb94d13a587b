package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/zerodrop/zerodrop/test/e2e/internal/load"
	"github.com/zerodrop/zerodrop/test/e2e/internal/report"
)

// TestCheck runs without a cluster: each rule of check must turn a bad
// figure into a problem, and a good run must have none.
func TestCheck(t *testing.T) {
	good := func() *report.Scenario {
		return &report.Scenario{
			Requests: minRequests, SteadyP99: 2, RolloutP99: 3,
			Phases: []report.Phase{
				{Name: "steady", Requests: 500, FromVersion: "0.1.0", ToVersion: "0.1.0",
					VersionsSeen: map[string]int{"0.1.0": 500}, FinalVersions: map[string]int{"0.1.0": 100}},
				{Name: "version", Requests: 500, FromVersion: "0.1.0", ToVersion: "0.2.0", DNSAnswer: 3, DNSStale: 3,
					VersionsSeen: map[string]int{"0.1.0": 250, "0.2.0": 250}, FinalVersions: map[string]int{"0.2.0": 100}},
				{Name: "partition", Kind: report.PartitionKind, Requests: 500, FromVersion: "0.2.0", ToVersion: "0.2.0",
					VersionsSeen: map[string]int{"0.2.0": 500}, FinalVersions: map[string]int{"0.2.0": 100},
					Partition: &report.Partition{Pod: "pod-a", Cut: 10 * time.Second, Unready: 14 * time.Second, Restored: 14 * time.Second, Ready: 16 * time.Second}},
			},
		}
	}
	failing := func() *report.Scenario {
		sc := good()
		sc.Failed = 7
		sc.Lint.Errors = 1
		sc.Lint.Findings = []report.LintFinding{{Rule: "liveness-probe-missing", Severity: "warning"}, {Rule: "drain-missing", Severity: "error"}}
		return sc
	}
	cases := []struct {
		name         string
		sc           *report.Scenario
		wantFailures bool
		want         string // "" for no problem
	}{
		{"good prod", good(), false, ""},
		{"naive that fails", failing(), true, ""},
		{"prod that failed requests", func() *report.Scenario { s := good(); s.Failed = 1; return s }(), false, "1 of 50000 requests failed"},
		{"prod with too little load", func() *report.Scenario { s := good(); s.Requests = minRequests - 1; return s }(), false, "only 49999 requests"},
		{"naive with little load", func() *report.Scenario { s := failing(); s.Requests = 100; return s }(), true, ""},
		{"naive that failed nothing", func() *report.Scenario { s := failing(); s.Failed = 0; return s }(), true, "cannot see the defect"},
		{"prod slow in rollouts", func() *report.Scenario { s := good(); s.RolloutP99 = 4.1; return s }(), false, "more than 2× the steady p99"},
		{"prod with one slow phase", func() *report.Scenario { s := good(); s.Phases[1].P99ms = 4.1; return s }(), false, "version: p99 4.1 ms is more than 2× the steady p99 2.0 ms"},
		{"prod with a phase at the limit", func() *report.Scenario { s := good(); s.Phases[1].P99ms = 4; return s }(), false, ""},
		{"naive with a slow phase", func() *report.Scenario { s := failing(); s.Phases[1].P99ms = 40; return s }(), true, ""},
		{"naive slow in rollouts", func() *report.Scenario { s := failing(); s.RolloutP99 = 40; return s }(), true, ""},
		{"lint errors on prod", func() *report.Scenario { s := failing(); s.Failed = 0; return s }(), false, "scaffold lint found 1 error(s): drain-missing"},
		{"lint blind to naive", func() *report.Scenario { s := failing(); s.Lint = report.Lint{}; return s }(), true, "scaffold lint found no error"},
		{"unexpected version", func() *report.Scenario { s := good(); s.Phases[0].VersionsSeen["9.9.9"] = 1; return s }(), false, `saw version "9.9.9"`},
		{"old version at the end", func() *report.Scenario { s := good(); s.Phases[1].FinalVersions["0.1.0"] = 1; return s }(), false, `still saw "0.1.0"`},
		{"new version never seen", func() *report.Scenario { s := good(); delete(s.Phases[1].VersionsSeen, "0.2.0"); return s }(), false, "no client saw version 0.2.0"},
		{"a phase without load", func() *report.Scenario { s := good(); s.Phases[1].Requests = 0; return s }(), false, "version: no requests"},
		{"eviction never refused", func() *report.Scenario {
			s := good()
			s.Phases[1].Kind, s.Phases[1].Evictions = "evict", &report.Evictions{Accepted: 3}
			return s
		}(), false, "refused no eviction"},
		{"eviction refused", func() *report.Scenario {
			s := good()
			s.Phases[1].Kind, s.Phases[1].Evictions = "evict", &report.Evictions{Accepted: 3, Refused: 1}
			return s
		}(), false, ""},
		{"streams that resumed cleanly", withStreams(good(), report.StreamFigures{Events: 100, Resumes: 3}), false, ""},
		{"a lost event", withStreams(good(), report.StreamFigures{Events: 100, Resumes: 3, Gaps: 1}), false, "lost 1 events"},
		{"a repeated event", withStreams(good(), report.StreamFigures{Events: 100, Resumes: 3, Duplicates: 2}), false, "repeated 2 events"},
		{"a stream given up", withStreams(good(), report.StreamFigures{Events: 100, Resumes: 3, Ended: 1}), false, "gave up on a Watch stream 1 times"},
		{"streams never cut", withStreams(good(), report.StreamFigures{Events: 100}), false, "ever cut and resumed"},
		{"a phase without stream events", func() *report.Scenario {
			s := withStreams(good(), report.StreamFigures{Events: 100, Resumes: 3})
			s.Phases[1].Streams.Events = 0
			return s
		}(), false, "version: no stream events"},
		{"an HTTP/2 client never moved", func() *report.Scenario {
			s := good()
			s.Clients = []load.Info{{Name: "h2c", Protocol: "http", Pinned: true}}
			s.ByClient = []report.ClientFigures{{Name: "h2c", Dialed: 1}}
			return s
		}(), false, "h2c kept one HTTP/2 connection"},
		{"DNS never stale", func() *report.Scenario { s := good(); s.Phases[1].DNSStale = 0; return s }(), false, "DNS cache was not put to the test"},
		{"naive that failed in every drop", func() *report.Scenario {
			s := failing()
			s.Phases[1].Kind, s.Phases[1].Failed = "evict", 3
			return s
		}(), true, ""},
		{"naive that survived an eviction", func() *report.Scenario { s := failing(); s.Phases[1].Kind = "evict"; return s }(), true, "version: the naive overlay failed no request"},
		{"a slow partition", func() *report.Scenario { s := good(); s.Phases[2].P99ms = 1600; return s }(), false, ""},
		{"no partition phase", func() *report.Scenario { s := good(); s.Phases = s.Phases[:2]; return s }(), false, "no partition phase"},
		{"naive without a partition", func() *report.Scenario { s := failing(); s.Phases = s.Phases[:2]; return s }(), true, ""},
		{"a partition that cut nothing", func() *report.Scenario { s := good(); s.Phases[2].Partition = nil; return s }(), false, "partition: no pod was cut off"},
		{"a pod never taken out", func() *report.Scenario { s := good(); s.Phases[2].Partition.Unready = 0; return s }(), false, "never took pod-a out of the endpoints"},
		{"the generated client left the silent pod in time", withPartitionClients(good(), 3*time.Second, 9*time.Second), false, ""},
		{"traced, every span kept", withTraces(good(), 0, 0), false, ""},
		{"traced, a span lost in a rollout", withTraces(good(), 1, 0), false, "version: 1 of 500 answered requests have no server span in the trace sink (rr: pod-b: 1)"},
		{"traced, spans lost in the partition", func() *report.Scenario {
			s := withTraces(good(), 0, 0)
			s.Phases[2].Traces.Served -= 10
			return s
		}(), false, ""},
		{"traced, a retried call without its attempts", withTraces(good(), 0, 1), false, "version: 1 of 4 retried or hedged calls"},
		{"traced, a phase without traces", func() *report.Scenario {
			s := withTraces(good(), 0, 0)
			s.Phases[0].Traces = nil
			return s
		}(), false, "steady: no request carried a trace"},
		{"the generated client stayed on the silent pod", withPartitionClients(good(), 3100*time.Millisecond, 0), false, "rr still sent to the silent pod 3.10 s after the cut, more than 3s"},
	}
	for _, c := range cases {
		problems := check(c.sc, c.wantFailures)
		got := strings.Join(problems, "; ")
		switch {
		case c.want == "" && len(problems) > 0:
			t.Errorf("%s: unexpected problems: %s", c.name, got)
		case c.want != "" && !strings.Contains(got, c.want):
			t.Errorf("%s: problems %q, want one containing %q", c.name, got, c.want)
		}
	}
}

// withStreams gives a scenario a stream client whose phases all saw events,
// with totals t.
func withStreams(s *report.Scenario, t report.StreamFigures) *report.Scenario {
	s.Clients = append(s.Clients, load.Info{Name: "watch", Protocol: "stream"})
	s.ByClient = append(s.ByClient, report.ClientFigures{Name: "watch"})
	s.Streams = t
	for i := range s.Phases {
		s.Phases[i].Streams.Events = 10
	}
	return s
}

// withPartitionClients gives a scenario a retrying gRPC client that last
// sent to the silent pod rr after the cut, and an HTTP client without
// retries, which the goal does not bind, that did so plain after it.
func withPartitionClients(s *report.Scenario, rr, plain time.Duration) *report.Scenario {
	s.Clients = append(s.Clients, load.Info{Name: "rr", Protocol: "grpc", Retries: true}, load.Info{Name: "plain", Protocol: "http"})
	s.ByClient = append(s.ByClient, report.ClientFigures{Name: "rr"}, report.ClientFigures{Name: "plain"})
	s.Phases[2].Partition.Clients = []report.PartitionClient{{Name: "rr", LastSent: &rr}, {Name: "plain", LastSent: &plain}}
	return s
}

// withTraces traces a scenario: each phase's 500 requests carried a trace
// and were answered, lost of the version phase's have no server span, and
// of its 4 retried calls, unshown lack an attempt's span.
func withTraces(s *report.Scenario, lost, unshown int) *report.Scenario {
	s.Traced = true
	for i := range s.Phases {
		s.Phases[i].Traces = &report.Traces{Traced: 500, Answered: 500, Served: 500, ServerSpans: 510, Retried: 4, InTrace: 4}
	}
	t := s.Phases[1].Traces
	t.Served -= lost
	if lost > 0 {
		t.Missing = map[string]int{"rr: pod-b": lost}
	}
	t.InTrace -= unshown
	return s
}
