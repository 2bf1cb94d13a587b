package otlpsink

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// TestSinkJoinsAPodsSpansToTheHarness: a span exported over OTLP/gRPC by
// the SDK, as a pod exports it, and one the harness records in process,
// arrive in the same trace, with the pod's resource and the attempt's peer.
func TestSinkJoinsAPodsSpansToTheHarness(t *testing.T) {
	sink, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	ctx := context.Background()

	harness := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sink.Processor()))
	callCtx, call := harness.Tracer("harness").Start(ctx, "call")
	_, attempt := harness.Tracer("harness").Start(callCtx, "attempt", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("network.peer.address", "10.217.0.7")))

	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(sink.Addr), otlptracegrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	pod := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(resource.NewSchemaless(
		attribute.String("service.name", "example-service"), attribute.String("k8s.pod.name", "example-service-abc"))))
	_, server := pod.Tracer("pod").Start(trace.ContextWithRemoteSpanContext(ctx, attempt.SpanContext()), "Work", trace.WithSpanKind(trace.SpanKindServer))
	server.End()
	if err := pod.Shutdown(ctx); err != nil { // flushes, as a pod does at shutdown
		t.Fatal(err)
	}
	attempt.End()
	call.End()

	byName := map[string]Span{}
	for _, s := range sink.Spans() {
		byName[s.Name] = s
	}
	tr := call.SpanContext().TraceID()
	want := map[string]Span{
		"Work":    {Trace: tr, ID: server.SpanContext().SpanID(), Parent: attempt.SpanContext().SpanID(), Name: "Work", Kind: trace.SpanKindServer, Service: "example-service", Pod: "example-service-abc"},
		"attempt": {Trace: tr, ID: attempt.SpanContext().SpanID(), Parent: call.SpanContext().SpanID(), Name: "attempt", Kind: trace.SpanKindClient, Peer: "10.217.0.7"},
		// The call's own span, a root, is not kept.
	}
	if sink.Len() != len(want) {
		t.Errorf("%d spans, want %d: %+v", sink.Len(), len(want), sink.Spans())
	}
	for name, w := range want {
		got := byName[name]
		got.Start = w.Start
		if got != w {
			t.Errorf("%s: %+v, want %+v", name, got, w)
		}
	}
}
