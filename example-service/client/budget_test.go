package client

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	drillv1 "github.com/zerodrop/zerodrop/example-service/api/exampleservice/drill/v1"
)

// failing is a drill whose Work always fails with code, optionally
// asking for a retry with a pushback trailer; it counts attempts.
type failing struct {
	drillv1.UnimplementedDrillServer
	code     codes.Code
	pushback string
	attempts atomic.Int64
}

func (f *failing) Work(ctx context.Context, _ *drillv1.WorkRequest) (*drillv1.WorkResponse, error) {
	f.attempts.Add(1)
	if f.pushback != "" {
		_ = grpc.SetTrailer(ctx, metadata.Pairs(pushbackKey, f.pushback))
	}
	return nil, status.Error(f.code, "overloaded")
}

// serveFailing runs f on a real gRPC server on loopback and returns a client
// of it with a short backoff.
func serveFailing(t *testing.T, f *failing, opts ...Option) *Client {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	drillv1.RegisterDrillServer(srv, f)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	c, err := New(context.Background(), "passthrough:///"+ln.Addr().String(), append([]Option{WithBackoff(time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestRetryBudgetCapsAStorm sends 200 calls to a server that fails every
// one with UNAVAILABLE. Without a budget each call makes all its attempts;
// with the default budget, retries stop once half the bucket is spent.
func TestRetryBudgetCapsAStorm(t *testing.T) {
	const calls = 200
	storm := func(opts ...Option) int64 {
		f := &failing{code: codes.Unavailable}
		c := serveFailing(t, f, opts...)
		for range calls {
			if _, err := drillOf(c).Work(context.Background(), &drillv1.WorkRequest{}); status.Code(err) != codes.Unavailable {
				t.Fatalf("Work = %v, want UNAVAILABLE", err)
			}
		}
		return f.attempts.Load()
	}
	unbudgeted := storm(WithRetryBudget(0, 0))
	budgeted := storm()
	t.Logf("%d calls that all fail: %d attempts without a budget, %d with the default one", calls, unbudgeted, budgeted)
	if unbudgeted != calls*DefaultMaxAttempts {
		t.Errorf("without a budget: %d attempts, want every call's %d", unbudgeted, DefaultMaxAttempts)
	}
	// Half the bucket, one token per failed attempt, pays for the retries.
	if limit := int64(calls + DefaultMaxTokens/2); budgeted > limit {
		t.Errorf("with the budget: %d attempts for %d calls, want at most %d", budgeted, calls, limit)
	}
}

// TestRetryBudgetRefills checks the bucket's arithmetic: successes earn
// retries back at TokenRatio each.
func TestRetryBudgetRefills(t *testing.T) {
	b := newBudget(DefaultMaxTokens, DefaultTokenRatio)
	for range DefaultMaxTokens / 2 {
		if !b.allows() {
			t.Fatal("a fresh budget refused a retry")
		}
		b.failure()
	}
	if b.allows() {
		t.Fatal("half the bucket spent, and retries still allowed")
	}
	for range 10 { // 10 × 0.1 earns one token back
		b.success()
	}
	if !b.allows() {
		t.Error("ten successes did not earn a retry back")
	}
	if off := newBudget(0, 0); !off.allows() {
		t.Error("a budget of no tokens must be off")
	}
}

// TestResourceExhaustedNeedsPushback retries RESOURCE_EXHAUSTED only when
// the server asks for it with a non-negative grpc-retry-pushback-ms.
func TestResourceExhaustedNeedsPushback(t *testing.T) {
	for _, tt := range []struct {
		pushback string
		want     int64
	}{
		{pushback: "", want: 1},
		{pushback: "-1", want: 1},
		{pushback: "0", want: DefaultMaxAttempts},
	} {
		f := &failing{code: codes.ResourceExhausted, pushback: tt.pushback}
		c := serveFailing(t, f)
		_, err := drillOf(c).Work(context.Background(), &drillv1.WorkRequest{})
		if status.Code(err) != codes.ResourceExhausted {
			t.Errorf("pushback %q: Work = %v, want RESOURCE_EXHAUSTED", tt.pushback, err)
		}
		if got := f.attempts.Load(); got != tt.want {
			t.Errorf("pushback %q: %d attempts, want %d", tt.pushback, got, tt.want)
		}
	}
}
