package client

import (
	"context"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	drillv1 "github.com/zerodrop/zerodrop/example-service/api/exampleservice/drill/v1"
)

// TestAttemptSpansNameThePod: through a name that stands for several pods,
// as a headless Service's does, each attempt of a call is a span of its own
// in the caller's trace, and names the pod it reached: a call that a pod
// refused shows that pod for each refusal, then the one that answered.
func TestAttemptSpansNameThePod(t *testing.T) {
	refusing := &failing{code: codes.Unavailable}
	refused, _ := serveDrill(t, refusing)
	answered, _ := serveDrill(t, answering{})
	r := manual.NewBuilderWithScheme("spans")
	r.InitialState(resolver.State{Addresses: []resolver.Address{
		{Addr: refused},
		{Addr: answered},
	}})
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	c := newClient(t, "spans:///svc", WithDialOptions(grpc.WithResolvers(r)),
		WithTracerProvider(tp), WithBackoff(time.Millisecond), WithoutHedging())
	tracer := tp.Tracer("test")

	// Calls go on until three were retried, bounded: the refusing pod gets
	// no attempt until its connection is ready. While the answering pod's
	// is not ready yet, a call may be refused more than once: refusals
	// counts the attempts the refusing pod saw in each call.
	type retriedCall struct {
		trace.SpanContext
		refusals int64
	}
	var retried []retriedCall
	for i := 0; i < 500 && len(retried) < 3; i++ {
		before := refusing.attempts.Load()
		ctx, call := tracer.Start(context.Background(), "call")
		_, err := drillOf(c).Work(ctx, &drillv1.WorkRequest{})
		call.End()
		if err != nil {
			t.Fatalf("call %d: %v, want the answer of the pod that works", i, err)
		}
		if n := refusing.attempts.Load() - before; n > 0 {
			retried = append(retried, retriedCall{call.SpanContext(), n})
		}
	}
	if len(retried) < 3 {
		t.Fatalf("%d of 500 calls were retried, want 3: the refusing pod was never picked", len(retried))
	}
	for i, call := range retried {
		var want []string
		for range call.refusals {
			want = append(want, refused)
		}
		want = append(want, answered)
		var peers []string
		for _, s := range spans.Ended() {
			if s.SpanKind() != trace.SpanKindClient || s.Parent().SpanID() != call.SpanID() {
				continue
			}
			a := attributes(s.Attributes())
			peers = append(peers, net.JoinHostPort(a["network.peer.address"], a["network.peer.port"]))
		}
		if !slices.Equal(peers, want) {
			t.Errorf("retried call %d: attempt spans name %v, want the refusing pod for each of its %d attempts, then the answering one: %v", i, peers, call.refusals, want)
		}
	}
}

// attributes are a span's attributes as strings, by key.
func attributes(kvs []attribute.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		switch kv.Value.Type() {
		case attribute.INT64:
			m[string(kv.Key)] = strconv.FormatInt(kv.Value.AsInt64(), 10)
		default:
			m[string(kv.Key)] = kv.Value.Emit()
		}
	}
	return m
}
