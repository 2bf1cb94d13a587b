package client

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	drillv1 "github.com/zerodrop/zerodrop/example-service/api/exampleservice/drill/v1"
)

// counter answers Count and counts the calls it ran.
type counter struct {
	drillv1.UnimplementedDrillServer
	calls atomic.Int64
}

func (c *counter) Count(context.Context, *drillv1.CountRequest) (*drillv1.CountResponse, error) {
	return &drillv1.CountResponse{Value: c.calls.Add(1), Hostname: "fallback"}, nil
}

func dialCounter(t *testing.T) (*counter, *grpc.ClientConn) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	c := &counter{}
	drillv1.RegisterDrillServer(srv, c)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	cc, err := grpc.NewClient("passthrough:///"+lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(sentTracker{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return c, cc
}

// TestUnsentAttemptsGoToTheFallback: an attempt that failed in the client,
// before its headers reached the transport, is sent to the fallback even for
// a method with side effects; one that was sent is never sent again.
func TestUnsentAttemptsGoToTheFallback(t *testing.T) {
	srv, fallback := dialCounter(t)
	_, main := dialCounter(t) // READY once used, so that routeUnary tries it first
	ctx := context.Background()
	if _, err := drillv1.NewDrillClient(main).Count(ctx, &drillv1.CountRequest{}); err != nil {
		t.Fatal(err)
	}
	// grpc-go installs a READY connection's picker a moment before it
	// reports the state, so a call can succeed while GetState still says
	// CONNECTING: wait for the state itself, which routeUnary reads.
	ready, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for s := main.GetState(); s != connectivity.Ready; s = main.GetState() {
		if !main.WaitForStateChange(ready, s) {
			t.Fatalf("the main connection stayed %v", s)
		}
	}
	fb := newFallbacks()
	fb.conns = []*grpc.ClientConn{fallback}
	route := routeUnary(fb)
	method := drillv1.Drill_Count_FullMethodName

	neverSent := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		return status.Error(codes.Unavailable, "no ready pod at pick time")
	}
	reply := new(drillv1.CountResponse)
	if err := route(ctx, method, &drillv1.CountRequest{}, reply, main, neverSent); err != nil || reply.GetHostname() != "fallback" {
		t.Fatalf("an attempt that never left the client: %v, reply %v; want it answered by the fallback", err, reply)
	}

	before := srv.calls.Load()
	sentThenFailed := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		sentTracker{}.HandleRPC(ctx, &stats.OutHeader{Client: true})
		return status.Error(codes.Unavailable, "connection reset after the headers went out")
	}
	if err := route(ctx, method, &drillv1.CountRequest{}, new(drillv1.CountResponse), main, sentThenFailed); status.Code(err) != codes.Unavailable {
		t.Errorf("an attempt that was sent and failed: %v, want its Unavailable back", err)
	}
	if n := srv.calls.Load(); n != before {
		t.Errorf("the fallback ran %d more calls: a sent attempt was sent again", n-before)
	}
}

// TestSentTrackerSeesRealCalls: the flag is set by a real call on the wire,
// so routeUnary's test of it means what it says.
func TestSentTrackerSeesRealCalls(t *testing.T) {
	_, cc := dialCounter(t)
	a := new(mainAttempt)
	ctx := context.WithValue(context.Background(), attemptKey{}, a)
	if _, err := drillv1.NewDrillClient(cc).Count(ctx, &drillv1.CountRequest{}); err != nil {
		t.Fatal(err)
	}
	if !a.sent.Load() {
		t.Error("a call that reached the server was not marked as sent")
	}
}
