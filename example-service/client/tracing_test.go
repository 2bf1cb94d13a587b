package client

import (
	"context"
	"net"
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
// in the caller's trace, and names the pod it reached: a call whose first
// attempt a pod refused shows that pod, then the one that answered.
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
	// no attempt until its connection is ready.
	var retried []trace.SpanContext
	for i := 0; i < 500 && len(retried) < 3; i++ {
		before := refusing.attempts.Load()
		ctx, call := tracer.Start(context.Background(), "call")
		_, err := drillOf(c).Work(ctx, &drillv1.WorkRequest{})
		call.End()
		if err != nil {
			t.Fatalf("call %d: %v, want the answer of the pod that works", i, err)
		}
		if refusing.attempts.Load() > before {
			retried = append(retried, call.SpanContext())
		}
	}
	if len(retried) < 3 {
		t.Fatalf("%d of 500 calls were retried, want 3: the refusing pod was never picked", len(retried))
	}
	for i, call := range retried {
		var peers []string
		for _, s := range spans.Ended() {
			if s.SpanKind() != trace.SpanKindClient || s.Parent().SpanID() != call.SpanID() {
				continue
			}
			a := attributes(s.Attributes())
			peers = append(peers, net.JoinHostPort(a["network.peer.address"], a["network.peer.port"]))
		}
		if len(peers) != 2 || peers[0] != refused || peers[1] != answered {
			t.Errorf("retried call %d: attempt spans name %v, want the refusing pod then the answering one, [%s %s]", i, peers, refused, answered)
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
