package report

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/zerodrop/zerodrop/test/e2e/internal/load"
	"github.com/zerodrop/zerodrop/test/e2e/internal/otlpsink"
)

// TestFillTraces: a request answered has its pod's server span, or counts
// as missing, gated but in a hard kill, unless the pod that answered it was
// killed before its next export; a retried call has a span for each
// attempt that went out, naming the address it reached, or counts as not
// shown.
func TestFillTraces(t *testing.T) {
	sc := &Scenario{
		Traced:  true,
		Clients: []load.Info{{Name: "h", Protocol: "http"}, {Name: "rr", Protocol: "grpc", Retries: true}},
		Phases: []Phase{
			{Name: "steady", Kind: "steady", End: 10 * time.Second},
			{Name: "kill", Kind: KillKind, Start: 10 * time.Second, End: 20 * time.Second, HardStop: &HardStop{Pod: "pod-c", From: 11 * time.Second, To: 11200 * time.Millisecond}},
		},
	}
	tries := func(peers ...string) []load.Try {
		var ts []load.Try
		for _, p := range peers {
			ts = append(ts, load.Try{Peer: p})
		}
		return ts
	}
	samples := []load.Sample{
		{Client: 0, At: time.Second, OK: true, Host: "pod-a", Trace: traceID("t1").String()},
		{Client: 0, At: 2 * time.Second, OK: true, Host: "pod-a", Trace: traceID("t2").String()}, // its span was lost
		{Client: 0, At: 3 * time.Second, Error: "connection refused", Trace: traceID("t3").String()},
		{Client: 1, At: 4 * time.Second, OK: true, Host: "pod-b", Trace: traceID("t4").String(), Tries: tries("10.0.0.1", "10.0.0.2")},
		{Client: 0, At: 5 * time.Second, OK: true},                                                       // not traced
		{Client: 0, At: 8 * time.Second, OK: true, Host: "pod-c", Trace: traceID("t6").String()},         // long before the kill: lost
		{Client: 0, At: 9500 * time.Millisecond, OK: true, Host: "pod-c", Trace: traceID("t7").String()}, // its batch died with pod-c
		{Client: 1, At: 10500 * time.Millisecond, OK: true, Host: "pod-c", Trace: traceID("t5").String(), Tries: tries("10.0.0.1", "10.0.0.3")},
		{Client: 0, At: 11100 * time.Millisecond, OK: true, Host: "pod-c", Trace: traceID("t8").String()}, // while the kill's command ran
		{Client: 0, At: 11200 * time.Millisecond, OK: true, Host: "pod-c", Trace: traceID("t9").String()}, // the restarted container's: lost
	}
	server := func(tr, pod string) otlpsink.Span {
		return otlpsink.Span{Trace: traceID(tr), Service: "example-service", Pod: pod, Kind: trace.SpanKindServer}
	}
	attempt := func(tr, peer string) otlpsink.Span {
		return otlpsink.Span{Trace: traceID(tr), Kind: trace.SpanKindClient, Peer: peer}
	}
	spans := []otlpsink.Span{
		server("t1", "pod-a"),
		attempt("t4", "10.0.0.2"), attempt("t4", "10.0.0.1"), server("t4", "pod-b"),
		attempt("t5", "10.0.0.1"), attempt("t5", ""), // the second attempt's span names no pod
	}
	if missing := FillTraces(sc, samples, spans); missing != 3 {
		t.Errorf("FillTraces = %d spans still wanted, want 3: t2's and t6's server spans, and t5's second attempt (the kill's phase keeps none)", missing)
	}
	steady, kill := sc.Phases[0].Traces, sc.Phases[1].Traces
	if want := (Traces{Traced: 6, Answered: 5, Served: 2, ServerSpans: 2, Missing: map[string]int{"h: pod-a": 1, "h: pod-c": 1}, Unexported: 1, Retried: 1, InTrace: 1}); !reflect.DeepEqual(*steady, want) {
		t.Errorf("steady: %+v, want %+v", *steady, want)
	}
	if want := (Traces{Traced: 3, Answered: 3, Served: 0, Missing: map[string]int{"h: pod-c": 1}, Unexported: 2, Retried: 1, InTrace: 0}); !reflect.DeepEqual(*kill, want) {
		t.Errorf("kill: %+v, want %+v", *kill, want)
	}
	got := strings.Join(TraceProblems(sc), "; ")
	for _, want := range []string{
		"steady: 2 of 5 answered requests have no server span in the trace sink (h: pod-a: 1, h: pod-c: 1)",
		"kill: 1 of 1 retried or hedged calls",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems %q, want one containing %q", got, want)
		}
	}
	if strings.Contains(got, "kill: 1 of 3 answered") {
		t.Errorf("problems %q: spans that died with the killed pod are not lost", got)
	}
	md := Markdown(&Run{Scenarios: []*Scenario{sc}})
	if !strings.Contains(md, "| 2 | kill | 3 | 3 | 0 | 0 | 2 | h: pod-c: 1 (not gated) | 1 | 0 |") {
		t.Errorf("run.md has no trace row for the kill:\n%s", md)
	}
}

// traceID is a trace ID named by a short string, for tables of samples.
func traceID(name string) trace.TraceID {
	var id trace.TraceID
	copy(id[:], name)
	return id
}
