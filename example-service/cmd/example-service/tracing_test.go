package main

import (
	"context"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	otelpropagation "go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc/metadata"

	drillv1 "github.com/zerodrop/zerodrop/example-service/api/exampleservice/drill/v1"
	"github.com/zerodrop/zerodrop/example-service/internal/servicetest"
)

// otelEnv is what a platform sets to send a service's traces to a collector:
// the standard variables only. The batch processor's delay is far longer
// than any test, so that only the flush at shutdown can deliver the spans.
func otelEnv(service, protocol, endpoint string) []string {
	return []string{
		"OTEL_SERVICE_NAME=" + service,
		"OTEL_EXPORTER_OTLP_PROTOCOL=" + protocol,
		"OTEL_EXPORTER_OTLP_ENDPOINT=http://" + endpoint,
		"OTEL_BSP_SCHEDULE_DELAY=3600000",
	}
}

// caller starts a span as a traced caller of the service would, and returns
// a context whose outgoing gRPC metadata carries it (W3C traceparent), and
// the same as HTTP headers.
func caller(ctx context.Context) (context.Context, http.Header, trace.SpanContext) {
	ctx, span := sdktrace.NewTracerProvider().Tracer("test").Start(ctx, "caller")
	span.End()
	h := http.Header{}
	otelpropagation.TraceContext{}.Inject(ctx, otelpropagation.HeaderCarrier(h))
	return metadata.AppendToOutgoingContext(ctx, "traceparent", h.Get("traceparent")), h, span.SpanContext()
}

// TestTracesCrossTwoProcesses: an edge relays to a core (the drill's
// --drill-upstream), both exporting to a real OTLP receiver with only the
// standard OTEL_* variables, over each protocol. A traced gRPC call and a
// traced HTTP request to the edge, the latter made during the edge's drain
// delay after SIGTERM, each make one trace across both processes: the
// edge's server span on the caller's, the client's attempt on that with the
// pod it reached, the core's server span on the attempt; the latency
// histograms carry the traces as exemplars in OpenMetrics. The batch
// processor would hold the spans for an hour: the flush at shutdown
// delivers them, and both processes exit 0. Health checks and the health
// port make no spans, and a failed call's log line names its trace, as a
// failed HTTP request's does.
func TestTracesCrossTwoProcesses(t *testing.T) {
	for _, protocol := range []string{"grpc", "http/protobuf"} {
		t.Run(protocol, func(t *testing.T) {
			col := servicetest.StartCollector(t)
			endpoint := col.GRPCAddr
			if protocol != "grpc" {
				endpoint = col.HTTPAddr
			}
			core, edge, conn := twoTiers(t, servicetest.Options{Version: "core-1", Env: otelEnv("core", protocol, endpoint)},
				servicetest.Options{Version: "edge-1", ShutdownDelay: 2 * time.Second, Env: otelEnv("edge", protocol, endpoint)})
			ctx := servicetest.WithTimeout(t, 20*time.Second)

			grpcCtx, _, grpcCaller := caller(ctx)
			if _, err := drillv1.NewDrillClient(conn).Work(grpcCtx, &drillv1.WorkRequest{}); err != nil {
				t.Fatal(err)
			}
			failCtx, _, failCaller := caller(ctx)
			if _, err := drillv1.NewDrillClient(conn).Work(failCtx, &drillv1.WorkRequest{WorkMs: 60000}); err == nil {
				t.Fatal("Work with 60 s of work succeeded, want INVALID_ARGUMENT")
			}
			_, failHeader, httpFailCaller := caller(ctx)
			if code, _ := fetch(ctx, t, "http://"+edge.HTTPAddr+"/drill/work?sleep=never", failHeader); code != http.StatusBadRequest {
				t.Fatalf("GET /drill/work?sleep=never: %d, want 400", code)
			}

			// The latency histograms carry each sampled trace as an
			// exemplar, in OpenMetrics.
			_, header, httpBefore := caller(ctx)
			get(ctx, t, "http://"+edge.HTTPAddr+"/drill/work", header)
			om := get(ctx, t, "http://"+edge.HealthAddr+"/metrics", http.Header{"Accept": {"application/openmetrics-text; version=1.0.0"}})
			// A bucket keeps its latest exemplar: the failed call's may
			// have replaced the first call's.
			for metric, traces := range map[string][]trace.SpanContext{
				"grpc_server_handling_seconds_bucket":  {grpcCaller, failCaller},
				"http_request_duration_seconds_bucket": {httpBefore},
			} {
				if !hasExemplar(om, metric, traces) {
					t.Errorf("no %s line with one of the test's traces (%v) as its exemplar in the OpenMetrics output", metric, traces)
				}
			}

			edge.Signal(t, syscall.SIGTERM)
			if !edge.WaitLog("failing readiness", 10*time.Second) {
				t.Fatal("the edge never began its drain")
			}
			_, header, httpCaller := caller(ctx)
			get(ctx, t, "http://"+edge.HTTPAddr+"/drill/work", header) // during the drain delay
			for _, p := range []*servicetest.Process{edge, core} {
				if p == core {
					p.Signal(t, syscall.SIGTERM)
				}
				if code, _, err := p.Wait(30 * time.Second); err != nil || code != 0 {
					t.Fatalf("exit %d, %v; want 0", code, err)
				}
			}

			spans := col.Spans()
			coreHost, _, _ := net.SplitHostPort(core.GRPCAddr)
			for _, tc := range []struct {
				name   string
				caller trace.SpanContext
				edge   string // the edge's server span
			}{
				{"gRPC call", grpcCaller, "exampleservice.drill.v1.Drill/Work"},
				{"HTTP request in the drain", httpCaller, "GET /drill/work"},
			} {
				server := find(spans, "edge", tc.caller.SpanID(), tracepb.Span_SPAN_KIND_SERVER)
				if server == nil || server.GetName() != tc.edge || !sameTrace(server, tc.caller) {
					t.Errorf("%s: no edge server span %q on the caller's span in its trace; spans:\n%s", tc.name, tc.edge, describe(spans))
					continue
				}
				attempt := find(spans, "edge", spanID(server), tracepb.Span_SPAN_KIND_CLIENT)
				if attempt == nil || attr(attempt, "network.peer.address") != coreHost {
					t.Errorf("%s: no client attempt span under the edge's server span that names the pod it reached (%s); spans:\n%s", tc.name, coreHost, describe(spans))
					continue
				}
				if find(spans, "core", spanID(attempt), tracepb.Span_SPAN_KIND_SERVER) == nil {
					t.Errorf("%s: no core server span on the edge's attempt; spans:\n%s", tc.name, describe(spans))
				}
			}
			for _, s := range spans {
				if strings.Contains(s.GetName(), "grpc.health") || strings.Contains(s.GetName(), "/readyz") || strings.Contains(s.GetName(), "/livez") {
					t.Errorf("a health check made a span: %s %s", s.Service, s.GetName())
				}
			}
			traceID := failCaller.TraceID().String()
			for name, p := range map[string]*servicetest.Process{"edge": edge, "core": core} {
				if !strings.Contains(p.Stderr(), "trace_id="+traceID) {
					t.Errorf("the %s's log has no line with the failed call's trace_id=%s:\n%s", name, traceID, p.Stderr())
				}
			}
			if want := "http.code=400 "; !hasLine(edge.Stderr(), want, "trace_id="+httpFailCaller.TraceID().String()) {
				t.Errorf("the edge's log has no %q line with the failed request's trace_id=%s:\n%s", want, httpFailCaller.TraceID(), edge.Stderr())
			}
		})
	}
}

// TestDeadCollectorDoesNotStretchTheExit: a collector that accepts
// connections and never answers holds the flush at shutdown only for the
// cleanup timeout F: the process still exits 0 within D + S + F, and says
// that the spans were not exported.
func TestDeadCollectorDoesNotStretchTheExit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // never accepted: connects, then silence
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const d, s, f = 500 * time.Millisecond, 2 * time.Second, time.Second
	p := servicetest.Start(t, binary(t), servicetest.Options{ShutdownDelay: d, ShutdownTimeout: s,
		Env:  otelEnv("dead-collector", "http/protobuf", ln.Addr().String()),
		Args: []string{"-cleanup-timeout=" + f.String()}})
	p.WaitReady(t, 10*time.Second)
	resp, err := http.Get("http://" + p.HTTPAddr + "/drill/work")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	p.Signal(t, syscall.SIGTERM)
	sent := time.Now()
	code, exited, err := p.Wait(30 * time.Second)
	if err != nil || code != 0 {
		t.Fatalf("exit %d, %v; want 0: a lost span is not the service's failure", code, err)
	}
	took := exited.Sub(sent)
	t.Logf("exit %v after SIGTERM with a collector that never answers (D %v, S %v, F %v)", took, d, s, f)
	if took > d+s+f {
		t.Errorf("exit %v after SIGTERM, want within D + S + F = %v", took, d+s+f)
	}
	if !strings.Contains(p.Stderr(), "spans not exported") {
		t.Errorf("no warning that the spans were not exported:\n%s", p.Stderr())
	}
}

// get GETs url with header, wants a 200, and returns the body.
func get(ctx context.Context, t *testing.T, url string, header http.Header) string {
	t.Helper()
	code, body := fetch(ctx, t, url, header)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d", url, code)
	}
	return body
}

// fetch GETs url with header, and returns the status and the body.
func fetch(ctx context.Context, t *testing.T, url string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %d, %v", url, resp.StatusCode, err)
	}
	return resp.StatusCode, string(body)
}

// hasLine reports whether a line of log has every one of parts.
func hasLine(log string, parts ...string) bool {
	for _, line := range strings.Split(log, "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}

// hasExemplar reports whether a line of metric carries one of traces as
// its exemplar.
func hasExemplar(openMetrics, metric string, traces []trace.SpanContext) bool {
	for _, line := range strings.Split(openMetrics, "\n") {
		for _, sc := range traces {
			if strings.HasPrefix(line, metric+"{") && strings.Contains(line, `# {trace_id="`+sc.TraceID().String()+`"}`) {
				return true
			}
		}
	}
	return false
}

// find is the span of service whose parent is parent, of kind.
func find(spans []servicetest.Span, service string, parent trace.SpanID, kind tracepb.Span_SpanKind) *tracepb.Span {
	for _, s := range spans {
		if s.Service == service && s.GetKind() == kind && hex.EncodeToString(s.GetParentSpanId()) == parent.String() {
			return s.Span
		}
	}
	return nil
}

func spanID(s *tracepb.Span) trace.SpanID {
	var id trace.SpanID
	copy(id[:], s.GetSpanId())
	return id
}

func sameTrace(s *tracepb.Span, sc trace.SpanContext) bool {
	return hex.EncodeToString(s.GetTraceId()) == sc.TraceID().String()
}

func attr(s *tracepb.Span, key string) string {
	for _, a := range s.GetAttributes() {
		if a.GetKey() == key {
			return a.GetValue().GetStringValue()
		}
	}
	return ""
}

func describe(spans []servicetest.Span) string {
	var b strings.Builder
	for _, s := range spans {
		b.WriteString("  " + s.Service + " " + s.GetKind().String() + " " + s.GetName() +
			" span " + hex.EncodeToString(s.GetSpanId()) + " parent " + hex.EncodeToString(s.GetParentSpanId()) + "\n")
	}
	return b.String()
}
