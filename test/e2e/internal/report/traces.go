package report

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/zerodrop/zerodrop/test/e2e/internal/load"
	"github.com/zerodrop/zerodrop/test/e2e/internal/otlpsink"
)

// Traces are what the trace sink received of one phase's requests. Every
// request and call the harness sends carries its own trace (W3C trace
// context); the pods export their spans to the sink, and the harness's
// client records its attempts there too.
type Traces struct {
	// Traced are the phase's requests that carried a trace.
	Traced int `json:"traced"`
	// Answered are those a pod answered, and Served those of them whose
	// trace has a pod's server span: a pod that answered and stopped
	// exported the span before it exited.
	Answered int `json:"answered"`
	Served   int `json:"served"`
	// ServerSpans are the pods' server spans in the phase's traces,
	// retried and hedged attempts included.
	ServerSpans int `json:"server_spans"`
	// Missing are the answered requests with no server span, by
	// "client: pod that answered", but those of Unexported.
	Missing map[string]int `json:"missing,omitempty"`
	// Unexported are the answered requests with no server span whose pod
	// a phase killed or cut off (HardStop) less than UnexportedWindow after
	// the request began: their spans were still waiting for their batch.
	Unexported int `json:"unexported,omitempty"`
	// Retried are the generated client's calls with more than one attempt
	// that went out (retries and hedges), and InTrace those whose trace
	// has, for each of them, a span naming the address it reached.
	Retried int `json:"retried_calls"`
	InTrace int `json:"retried_in_trace"`
}

// ExportEvery is how often the traced scenario's pods export their spans
// (OTEL_BSP_SCHEDULE_DELAY). A span waits up to that long for its batch,
// so a pod killed outright takes the spans of about its last second with
// it; UnexportedWindow adds the request's latency and the export's own time.
const (
	ExportEvery      = time.Second
	UnexportedWindow = 2 * ExportEvery
)

// HardStop is a pod a phase stopped without its shutdown, or cut off the
// network: from just before the harness did it to when it was done (the
// kill's command returned, or the cut was restored).
type HardStop struct {
	Pod  string        `json:"pod"`
	From time.Duration `json:"from"`
	To   time.Duration `json:"to"`
}

// unexported says whether a request's spans may have died with a pod that
// a hard stop took before its next export: the pod answered it, and it
// began from UnexportedWindow before the stop until the stop was done.
func unexported(stops []HardStop, s load.Sample) bool {
	for _, st := range stops {
		if st.Pod == s.Host && s.At >= st.From-UnexportedWindow && s.At < st.To {
			return true
		}
	}
	return false
}

// SpansKept says whether every answered request of a phase must have its
// server span: in all but a hard kill, whose pod dies with the spans it had
// not exported yet, and a partition, whose pod cannot export until its
// network is back.
func (p *Phase) SpansKept() bool { return p.Kind != KillKind && p.Kind != PartitionKind }

// FillTraces computes each phase's Traces from the samples and the spans the
// sink received, and returns how many spans are still wanted: the server
// spans of the answered requests of phases that keep them, and the attempt
// spans of calls retried or hedged (a hedge that lost ends after its call).
func FillTraces(sc *Scenario, samples []load.Sample, spans []otlpsink.Span) (missing int) {
	byTrace := map[trace.TraceID][]otlpsink.Span{}
	for _, s := range spans {
		byTrace[s.Trace] = append(byTrace[s.Trace], s)
	}
	var stops []HardStop
	for _, p := range sc.Phases {
		if p.HardStop != nil {
			stops = append(stops, *p.HardStop)
		}
	}
	for i := range sc.Phases {
		p := &sc.Phases[i]
		t := &Traces{Missing: map[string]int{}}
		for _, s := range samples {
			if s.At < p.Start || s.At >= p.End || s.Trace == "" {
				continue
			}
			t.Traced++
			id, _ := trace.TraceIDFromHex(s.Trace)
			var servers int
			var peers []string
			for _, sp := range byTrace[id] {
				switch {
				case sp.Service != "" && sp.Kind == trace.SpanKindServer:
					servers++
				case sp.Service == "" && sp.Kind == trace.SpanKindClient && sp.Peer != "":
					peers = append(peers, sp.Peer)
				}
			}
			t.ServerSpans += servers
			if s.OK {
				t.Answered++
				switch {
				case servers > 0:
					t.Served++
				case unexported(stops, s):
					t.Unexported++
				default:
					t.Missing[sc.Clients[s.Client].Name+": "+s.Host]++
				}
			}
			if sc.Clients[s.Client].Retries && len(s.Tries) > 1 {
				t.Retried++
				if eachTryIn(s.Tries, peers) {
					t.InTrace++
				}
			}
		}
		if p.SpansKept() {
			missing += t.lost()
		}
		missing += t.Retried - t.InTrace
		p.Traces = t
	}
	return missing
}

// lost are the answered requests whose server span is missing, though no
// hard stop explains it.
func (t *Traces) lost() int { return t.Answered - t.Served - t.Unexported }

// eachTryIn says whether every try has an attempt span of its own that
// names the address it went to.
func eachTryIn(tries []load.Try, peers []string) bool {
	left := slices.Clone(peers)
	for _, try := range tries {
		i := slices.Index(left, try.Peer)
		if i < 0 {
			return false
		}
		left = slices.Delete(left, i, i+1)
	}
	return true
}

// TraceProblems are a traced scenario's phases without traces, their lost
// spans, and the retried or hedged calls whose trace does not show each
// attempt.
func TraceProblems(sc *Scenario) []string {
	if !sc.Traced {
		return nil
	}
	var problems []string
	for _, p := range sc.Phases {
		t := p.Traces
		if t == nil || t.Traced == 0 {
			problems = append(problems, p.Name+": no request carried a trace")
			continue
		}
		if p.SpansKept() && t.lost() > 0 {
			problems = append(problems, fmt.Sprintf("%s: %d of %d answered requests have no server span in the trace sink (%s): a pod lost spans",
				p.Name, t.lost(), t.Answered, counts(t.Missing)))
		}
		if t.InTrace < t.Retried {
			problems = append(problems, fmt.Sprintf("%s: %d of %d retried or hedged calls of the generated client lack a span, naming its pod, for each attempt that went out",
				p.Name, t.Retried-t.InTrace, t.Retried))
		}
	}
	return problems
}

// writeTraces tabulates the trace sink's figures per phase.
func writeTraces(b *strings.Builder, sc *Scenario) {
	if !slices.ContainsFunc(sc.Phases, func(p Phase) bool { return p.Traces != nil }) {
		return
	}
	b.WriteString("Traces: every request carried its own W3C trace context, and every pod exported its spans over OTLP/gRPC to the harness's sink. " +
		"A request answered has its pod's server span in every phase but the hard kill and the partition, " +
		"unless the pod that answered it was killed outright less than " + UnexportedWindow.String() + " after it began (its spans waited for their batch, exported every " + ExportEvery.String() + "); " +
		"each call of the generated client that was retried or hedged has a span for each attempt, naming the pod it reached.\n\n")
	b.WriteString("| # | phase | traced | answered | with a server span | server spans | died with a killed or cut-off pod | missing | calls retried or hedged | every attempt in the trace |\n")
	b.WriteString("|---:|---|---:|---:|---:|---:|---:|---|---:|---:|\n")
	for i, p := range sc.Phases {
		t := p.Traces
		if t == nil {
			continue
		}
		missing := counts(t.Missing)
		if !p.SpansKept() && missing != "" {
			missing += " (not gated)"
		}
		fmt.Fprintf(b, "| %d | %s | %d | %d | %d | %d | %d | %s | %d | %d |\n", i+1, p.Name, t.Traced, t.Answered, t.Served, t.ServerSpans, t.Unexported, missing, t.Retried, t.InTrace)
	}
	b.WriteString("\n")
}
