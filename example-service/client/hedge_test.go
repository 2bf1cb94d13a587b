package client

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	drillv1 "github.com/zerodrop/zerodrop/example-service/api/exampleservice/drill/v1"
)

// TestHedgeDelayLearnsTheMethod: until hedgeEvery attempts are seen, the
// delay is the ceiling; then it is their 99th percentile, within
// [MinHedgeDelay, ceiling]; each method learns its own.
func TestHedgeDelayLearnsTheMethod(t *testing.T) {
	h := &hedger{ceiling: time.Second}
	if d := h.delay("/a"); d != time.Second {
		t.Errorf("delay before any attempt = %v, want the ceiling, 1s", d)
	}
	for i := range hedgeEvery {
		// 1 ms … 64 ms: the 99th percentile of 64 is the largest.
		h.observe("/a", time.Duration(i+1)*time.Millisecond)
	}
	if d := h.delay("/a"); d != 64*time.Millisecond {
		t.Errorf("delay after 1..64 ms = %v, want 64ms", d)
	}
	for range hedgeWindow {
		h.observe("/b", time.Microsecond)
	}
	if d := h.delay("/b"); d != MinHedgeDelay {
		t.Errorf("delay of a method answered in 1µs = %v, want MinHedgeDelay", d)
	}
	for range hedgeWindow {
		h.observe("/c", time.Minute)
	}
	if d := h.delay("/c"); d != time.Second {
		t.Errorf("delay of a method answered in a minute = %v, want the ceiling", d)
	}
	// The window moves on: a method that became fast is hedged sooner.
	for range hedgeWindow {
		h.observe("/a", 2*time.Millisecond)
	}
	if d := h.delay("/a"); d != MinHedgeDelay {
		t.Errorf("delay once /a answers in 2 ms = %v, want MinHedgeDelay", d)
	}
	if d := (&hedger{fixed: 30 * time.Millisecond, ceiling: time.Second}).delay("/a"); d != 30*time.Millisecond {
		t.Errorf("fixed delay = %v, want 30ms", d)
	}
}

// TestHedgeWinsOverASlowAttempt: of two backends, one never answers. Every
// call whose first attempt lands there is answered by its hedge, on the
// other backend, although the call's deadline is shorter than the
// per-attempt timeout: without the hedge, it would fail. The calls go on
// until the silent backend has held a few first attempts, since the picker
// sends nothing there before its connection is ready, which on a busy
// machine can take longer than the first calls.
func TestHedgeWinsOverASlowAttempt(t *testing.T) {
	s := &stalling{}
	stalled, _ := serveDrill(t, s)
	fine, _ := serveDrill(t, answering{})
	r := manual.NewBuilderWithScheme("hedge")
	r.InitialState(resolver.State{Addresses: []resolver.Address{
		{Addr: stalled},
		{Addr: fine},
	}})
	var hedges atomic.Int64
	c := newClient(t, "hedge:///two", WithDialOptions(grpc.WithResolvers(r)),
		WithHedgeDelay(20*time.Millisecond), WithPerAttemptTimeout(time.Minute),
		WithOnHedge(func(string, uint) { hedges.Add(1) }))
	const (
		held     = 5    // first attempts on the silent backend to prove the point
		maxCalls = 2000 // bounds the loop if that backend is never picked
	)
	until := time.Now().Add(30 * time.Second)
	calls := 0
	for ; calls < maxCalls && s.attempts.Load() < held && time.Now().Before(until); calls++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := drillOf(c).Work(ctx, &drillv1.WorkRequest{})
		cancel()
		if err != nil {
			t.Fatalf("call %d: %v, want the hedge's answer (hedges %d, held %d)", calls, err, hedges.Load(), s.attempts.Load())
		}
	}
	t.Logf("%d calls: %d first attempts on the backend that never answers, %d hedges", calls, s.attempts.Load(), hedges.Load())
	if s.attempts.Load() < held {
		t.Fatalf("%d of the %d first attempts wanted reached the backend that never answers: nothing was proved", s.attempts.Load(), held)
	}
	if hedges.Load() < s.attempts.Load() {
		t.Errorf("%d hedges for %d attempts held: a hedge went to the silent backend too", hedges.Load(), s.attempts.Load())
	}
}

// answering is a drill whose Work answers at once.
type answering struct {
	drillv1.UnimplementedDrillServer
}

func (answering) Work(context.Context, *drillv1.WorkRequest) (*drillv1.WorkResponse, error) {
	return &drillv1.WorkResponse{Version: "v1"}, nil
}

// BenchmarkWork is the cost of an idempotent call through the client, on
// loopback, with hedging (a goroutine and a timer per call) and without.
func BenchmarkWork(b *testing.B) {
	addr, _ := serveDrill(b, answering{})
	for _, bb := range []struct {
		name string
		opts []Option
	}{
		{"hedged", nil},
		{"not hedged", []Option{WithoutHedging()}},
	} {
		b.Run(bb.name, func(b *testing.B) {
			c := newClient(b, "passthrough:///"+addr, bb.opts...)
			d := drillOf(c)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.Work(context.Background(), &drillv1.WorkRequest{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
