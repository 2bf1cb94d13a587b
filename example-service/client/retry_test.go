package client

import (
	"context"
	"errors"
	"math"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	drillv1 "github.com/zerodrop/zerodrop/example-service/api/exampleservice/drill/v1"
)

// serveDrill runs impl on a real gRPC server on loopback, with a health
// service whose status the test may change, and returns its address.
func serveDrill(t testing.TB, impl drillv1.DrillServer) (addr string, hs *health.Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	drillv1.RegisterDrillServer(srv, impl)
	hs = health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return ln.Addr().String(), hs
}

// drillOf is the drill's API through c, as any API's generated client is.
func drillOf(c *Client) drillv1.DrillClient { return drillv1.NewDrillClient(c.Conn()) }

// followWatch follows the drill's Watch from req (nil for an empty one),
// each resume after the last event delivered.
func followWatch(ctx context.Context, c *Client, req *drillv1.WatchRequest, f func(*drillv1.WatchResponse) error) error {
	open := func(ctx context.Context, last *drillv1.WatchResponse, opts ...grpc.CallOption) (grpc.ServerStreamingClient[drillv1.WatchResponse], error) {
		r := &drillv1.WatchRequest{IntervalMs: req.GetIntervalMs(), AfterSequence: req.GetAfterSequence()}
		if last != nil {
			r.AfterSequence = last.GetSequence()
		}
		return drillv1.NewDrillClient(c.Conn()).Watch(ctx, r, opts...)
	}
	return Follow(ctx, c, drillv1.Drill_Watch_FullMethodName, open, f)
}

func newClient(t testing.TB, target string, opts ...Option) *Client {
	t.Helper()
	c, err := New(context.Background(), target, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// stalling is a drill whose Work never answers: it holds each attempt
// until the client gives up on it, and counts the attempts.
type stalling struct {
	drillv1.UnimplementedDrillServer
	attempts atomic.Int64
	entered  chan struct{} // if set, told of each attempt
}

func (s *stalling) Work(ctx context.Context, _ *drillv1.WorkRequest) (*drillv1.WorkResponse, error) {
	s.attempts.Add(1)
	if s.entered != nil {
		s.entered <- struct{}{}
	}
	<-ctx.Done()
	return nil, status.FromContextError(ctx.Err()).Err()
}

// TestPerAttemptTimeoutsSpendTheBudget: an attempt cut off by the
// per-attempt timeout while the caller still waits is a failed attempt like
// any other. It costs a token and is retried only while the budget allows,
// so a server that has stopped answering gets about one attempt per call,
// not maxAttempts. Hedges are throttled by the same budget, and the bound
// is the same with them: an attempt beyond a call's first starts only while
// fewer than maxTokens/2 attempts have failed, and at most two are in
// flight, so when the last one starts, at most maxTokens/2+1 attempts have,
// one of them a call's first.
func TestPerAttemptTimeoutsSpendTheBudget(t *testing.T) {
	const calls, maxTokens = 20, 10
	for _, tt := range []struct {
		name string
		opts []Option
	}{
		{"retries only", []Option{WithoutHedging()}},
		{"hedged", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := &stalling{}
			addr, _ := serveDrill(t, s)
			opts := append([]Option{WithBackoff(time.Millisecond), WithPerAttemptTimeout(50 * time.Millisecond), WithRetryBudget(maxTokens, 1)}, tt.opts...)
			c := newClient(t, "passthrough:///"+addr, opts...)
			for range calls {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := drillOf(c).Work(ctx, &drillv1.WorkRequest{})
				callerAlive := ctx.Err() == nil
				cancel()
				if status.Code(err) != codes.DeadlineExceeded || !callerAlive {
					t.Fatalf("Work = %v (caller's deadline passed: %v), want DEADLINE_EXCEEDED of the last attempt, well within the call's deadline", err, !callerAlive)
				}
			}
			attempts := s.attempts.Load()
			t.Logf("%d calls to a server that never answers: %d attempts with a budget of %d tokens", calls, attempts, maxTokens)
			// Half the bucket, one token per timed-out attempt, pays for the
			// retries and hedges.
			if limit := int64(calls + maxTokens/2); attempts > limit {
				t.Errorf("%d attempts for %d calls, want at most %d: timed-out attempts were retried past the budget", attempts, calls, limit)
			}
			if attempts <= calls {
				t.Errorf("%d attempts for %d calls: no timed-out attempt was retried, though the budget allowed it", attempts, calls)
			}
		})
	}
}

// TestAttemptTimedOut: a DEADLINE_EXCEEDED is the per-attempt timeout's
// when its timer fired, or when the server reported it once the attempt's
// deadline had passed but before that timer ran; never when the caller's
// own deadline or cancellation came first.
func TestAttemptTimedOut(t *testing.T) {
	now := time.Now()
	background := context.Background()
	perAttempt, cancel := context.WithDeadline(background, now.Add(time.Hour))
	defer cancel()
	callerBound, cancel := context.WithDeadline(background, now.Add(30*time.Minute))
	defer cancel()
	withinCaller, cancel := context.WithDeadline(callerBound, now.Add(time.Hour))
	defer cancel()
	fired, cancel := context.WithDeadlineCause(background, now.Add(-time.Millisecond), errAttemptTimeout)
	defer cancel()
	left, leave := context.WithCancel(background)
	leave()
	leftAttempt, cancel := context.WithDeadline(left, now.Add(time.Hour))
	defer cancel()
	for _, tt := range []struct {
		name      string
		ctx, actx context.Context
		at        time.Time
		want      bool
	}{
		{"the attempt's timer fired", background, fired, now, true},
		{"the server reported the attempt's deadline first", background, perAttempt, now.Add(time.Hour), true},
		{"the server's own DEADLINE_EXCEEDED, long before", background, perAttempt, now.Add(time.Minute), false},
		{"the caller's deadline binds", callerBound, withinCaller, now.Add(2 * time.Hour), false},
		{"the caller left", left, leftAttempt, now.Add(2 * time.Hour), false},
		{"no per-attempt timeout", background, background, now.Add(2 * time.Hour), false},
	} {
		if got := attemptTimedOut(tt.ctx, tt.actx, tt.at); got != tt.want {
			t.Errorf("%s: attemptTimedOut = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestCallerDeadlineIsNotRetried: when the caller's own deadline ends an
// attempt, or the caller cancels, the call ends: nothing is retried.
func TestCallerDeadlineIsNotRetried(t *testing.T) {
	s := &stalling{}
	addr, _ := serveDrill(t, s)
	c := newClient(t, "passthrough:///"+addr, WithBackoff(time.Millisecond), WithPerAttemptTimeout(time.Minute))
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := drillOf(c).Work(ctx, &drillv1.WorkRequest{}); status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("Work past the caller's deadline = %v, want DEADLINE_EXCEEDED", err)
	}
	if n := s.attempts.Load(); n > 1 {
		t.Errorf("%d attempts: the caller's deadline was retried", n)
	}

	s = &stalling{entered: make(chan struct{}, 1)}
	addr, _ = serveDrill(t, s)
	c = newClient(t, "passthrough:///"+addr, WithBackoff(time.Millisecond), WithPerAttemptTimeout(time.Minute))
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select { // cancel once the attempt has reached the server
		case <-s.entered:
		case <-time.After(10 * time.Second):
		}
		cancel()
	}()
	if _, err := drillOf(c).Work(ctx, &drillv1.WorkRequest{}); status.Code(err) != codes.Canceled {
		t.Errorf("Work the caller cancelled = %v, want CANCELED", err)
	}
	if n := s.attempts.Load(); n != 1 {
		t.Errorf("%d attempts for a call the caller cancelled, want 1", n)
	}
}

// pushingBack is a drill whose Work fails with UNAVAILABLE once for
// each of pushbacks, with that pushback trailer unless it is "", then
// answers; it records when each attempt came.
type pushingBack struct {
	drillv1.UnimplementedDrillServer
	pushbacks []string
	mu        sync.Mutex
	times     []time.Time
}

func (p *pushingBack) Work(ctx context.Context, _ *drillv1.WorkRequest) (*drillv1.WorkResponse, error) {
	p.mu.Lock()
	p.times = append(p.times, time.Now())
	n := len(p.times)
	p.mu.Unlock()
	if n > len(p.pushbacks) {
		return &drillv1.WorkResponse{}, nil
	}
	if pb := p.pushbacks[n-1]; pb != "" {
		_ = grpc.SetTrailer(ctx, metadata.Pairs(pushbackKey, pb))
	}
	return nil, status.Error(codes.Unavailable, "busy: come back later")
}

// gaps are the times between attempts.
func (p *pushingBack) gaps() []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var gaps []time.Duration
	for i := 1; i < len(p.times); i++ {
		gaps = append(gaps, p.times[i].Sub(p.times[i-1]))
	}
	return gaps
}

// TestPushbackSetsTheWait: a server's grpc-retry-pushback-ms is the wait
// before the retry, in place of the backoff.
func TestPushbackSetsTheWait(t *testing.T) {
	const pushback = 300 * time.Millisecond
	p := &pushingBack{pushbacks: []string{"300"}}
	addr, _ := serveDrill(t, p)
	c := newClient(t, "passthrough:///"+addr)
	if _, err := drillOf(c).Work(context.Background(), &drillv1.WorkRequest{}); err != nil {
		t.Fatalf("Work = %v, want the retry to succeed", err)
	}
	gaps := p.gaps()
	if len(gaps) != 1 {
		t.Fatalf("%d attempts, want 2", len(gaps)+1)
	}
	gap := gaps[0]
	t.Logf("pushback %v: the retry came %v after the first attempt", pushback, gap.Round(time.Millisecond))
	if gap < pushback || gap > pushback+3*time.Second {
		t.Errorf("the retry came %v after the first attempt, want the server's pushback of %v", gap, pushback)
	}
}

// TestBackoffRestartsAfterPushback: after a pushback the exponential
// backoff starts again from its base, as gRFC A6 has it.
func TestBackoffRestartsAfterPushback(t *testing.T) {
	const base = 200 * time.Millisecond
	// Backoff base, then 2 × base; pushback 0; then base again, not 4 × base.
	p := &pushingBack{pushbacks: []string{"", "", "0", ""}}
	addr, _ := serveDrill(t, p)
	c := newClient(t, "passthrough:///"+addr, WithBackoff(base), WithMaxAttempts(5))
	if _, err := drillOf(c).Work(context.Background(), &drillv1.WorkRequest{}); err != nil {
		t.Fatalf("Work = %v, want the fifth attempt to succeed", err)
	}
	gaps := p.gaps()
	t.Logf("waits between attempts: %v", gaps)
	if len(gaps) != 4 {
		t.Fatalf("%d attempts, want 5", len(gaps)+1)
	}
	if gaps[1] < 2*base*8/10 {
		t.Errorf("the second retry came %v after the first, want the doubled backoff of about %v", gaps[1], 2*base)
	}
	// Jitter takes a wait of 4 × base down to 3.2 × base at the least.
	if gaps[3] >= 2*base+base/2 {
		t.Errorf("the retry after a pushback's came %v after it, want the base backoff of about %v", gaps[3], base)
	}
}

// TestBackoffIsCapped: the exponential backoff stops growing at the cap,
// for unary retries and Follow's resumes alike. Without the cap, 20
// attempts would wait 2^19 times the base, far past the deadline.
func TestBackoffIsCapped(t *testing.T) {
	p := backoffPolicy{base: 50 * time.Millisecond, max: time.Second}
	for retry := range uint(200) {
		want := min(p.base<<min(retry, 30), p.max)
		if d := p.wait(retry); d < want*8/10 || d > want*12/10 {
			t.Fatalf("wait(%d) = %v, want %v ± 20%%", retry, d, want)
		}
	}

	const attempts = 20
	opts := []Option{WithMaxAttempts(attempts), WithBackoff(time.Millisecond), WithMaxBackoff(2 * time.Millisecond), WithRetryBudget(0, 0)}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f := &failing{code: codes.Unavailable}
	c := serveFailing(t, f, opts...)
	if _, err := drillOf(c).Work(ctx, &drillv1.WorkRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("Work = %v, want UNAVAILABLE after all its attempts", err)
	}
	if n := f.attempts.Load(); n != attempts {
		t.Errorf("Work made %d attempts, want %d within the deadline", n, attempts)
	}

	unavailable := status.Error(codes.Unavailable, "draining")
	w := &watching{end: unavailable, resumed: unavailable}
	addr, _ := serveDrill(t, w)
	c = newClient(t, "passthrough:///"+addr, opts...)
	if err := followWatch(ctx, c, nil, func(*drillv1.WatchResponse) error { return nil }); status.Code(err) != codes.Unavailable {
		t.Errorf("Follow = %v, want UNAVAILABLE after all its attempts", err)
	}
	if n := w.streams.Load(); n != attempts {
		t.Errorf("Follow opened %d streams, want %d within the deadline", n, attempts)
	}
}

// TestPushbackPastTheDeadline: a pushback that would outlast the call's
// deadline ends the call at once with the server's error, rather than a
// sleep that ends in DEADLINE_EXCEEDED.
func TestPushbackPastTheDeadline(t *testing.T) {
	f := &failing{code: codes.Unavailable, pushback: "60000"}
	c := serveFailing(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := drillOf(c).Work(ctx, &drillv1.WorkRequest{})
	if status.Code(err) != codes.Unavailable || ctx.Err() != nil {
		t.Errorf("Work = %v, want the server's UNAVAILABLE before the deadline", err)
	}
	if n := f.attempts.Load(); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
}

// TestPushbackCanForbidRetries: a negative or malformed pushback means do not
// retry, even for UNAVAILABLE; none, or a valid one, allows the retries.
func TestPushbackCanForbidRetries(t *testing.T) {
	for _, tt := range []struct {
		pushback string
		want     int64
	}{
		{pushback: "", want: DefaultMaxAttempts},
		{pushback: "0", want: DefaultMaxAttempts},
		{pushback: "-1", want: 1},
		{pushback: "soon", want: 1},
	} {
		f := &failing{code: codes.Unavailable, pushback: tt.pushback}
		c := serveFailing(t, f)
		if _, err := drillOf(c).Work(context.Background(), &drillv1.WorkRequest{}); status.Code(err) != codes.Unavailable {
			t.Errorf("pushback %q: Work = %v, want UNAVAILABLE", tt.pushback, err)
		}
		if got := f.attempts.Load(); got != tt.want {
			t.Errorf("pushback %q: %d attempts, want %d", tt.pushback, got, tt.want)
		}
	}
}

// relaying is a drill whose Count calls Work through c with its
// own incoming context, as a service that calls this one from a handler
// does.
type relaying struct {
	drillv1.UnimplementedDrillServer
	c *Client
}

func (r *relaying) Count(ctx context.Context, _ *drillv1.CountRequest) (*drillv1.CountResponse, error) {
	_, err := drillOf(r.c).Work(ctx, &drillv1.WorkRequest{})
	return nil, err
}

// TestOnRetryReportsTheRetriedMethod: WithOnRetry names the method being
// retried, also when the call is made from inside a handler of another
// method.
func TestOnRetryReportsTheRetriedMethod(t *testing.T) {
	var (
		mu      sync.Mutex
		methods []string
	)
	f := &failing{code: codes.Unavailable}
	c := serveFailing(t, f, WithMaxAttempts(2), WithOnRetry(func(method string, attempt uint, _ error) {
		mu.Lock()
		defer mu.Unlock()
		methods = append(methods, method)
		if attempt != 2 {
			t.Errorf("attempt %d, want 2 for the only retry", attempt)
		}
	}))
	if _, err := drillOf(c).Work(context.Background(), &drillv1.WorkRequest{}); status.Code(err) != codes.Unavailable {
		t.Fatalf("Work = %v, want UNAVAILABLE", err)
	}
	addr, _ := serveDrill(t, &relaying{c: c})
	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if _, err := drillv1.NewDrillClient(cc).Count(context.Background(), &drillv1.CountRequest{}); status.Code(err) != codes.Unavailable {
		t.Fatalf("Count = %v, want the relayed UNAVAILABLE", err)
	}
	mu.Lock()
	defer mu.Unlock()
	work := drillv1.Drill_Work_FullMethodName
	want := []string{work, work}
	if strings.Join(methods, " ") != strings.Join(want, " ") {
		t.Errorf("WithOnRetry saw methods %q, want %q (a plain call, then one from a Count handler)", methods, want)
	}
}

// named is a drill that says which server it is.
type named struct {
	drillv1.UnimplementedDrillServer
	name string
}

func (n *named) Work(context.Context, *drillv1.WorkRequest) (*drillv1.WorkResponse, error) {
	return &drillv1.WorkResponse{Hostname: n.name}, nil
}

// Watch sends one event and ends the stream.
func (n *named) Watch(_ *drillv1.WatchRequest, stream drillv1.Drill_WatchServer) error {
	return stream.Send(&drillv1.WatchResponse{Hostname: n.name, Sequence: 1})
}

// raceWindow returns a client of a "main" server with one pod and of a
// "fallback" server, with its main connection ready. arm makes the next
// call or stream on the main connection find that pod NOT_SERVING after
// routeUnary or routeStream saw the connection ready, and before the pick:
// user interceptors run innermost, between the two.
func raceWindow(t *testing.T, ctx context.Context) (c *Client, arm func() (ran func() bool)) {
	t.Helper()
	mainAddr, mainHealth := serveDrill(t, &named{name: "main"})
	fallbackAddr, _ := serveDrill(t, &named{name: "fallback"})
	var armed atomic.Bool
	openWindow := func(ctx context.Context, cc *grpc.ClientConn) {
		if cc == c.Conn() && armed.CompareAndSwap(true, false) {
			mainHealth.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
			for cc.GetState() == connectivity.Ready && cc.WaitForStateChange(ctx, connectivity.Ready) {
			}
		}
	}
	unary := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		openWindow(ctx, cc)
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	stream := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		openWindow(ctx, cc)
		return streamer(ctx, desc, cc, method, opts...)
	}
	c = newClient(t, "passthrough:///"+mainAddr, WithFallback("passthrough:///"+fallbackAddr), WithPerAttemptTimeout(30*time.Second),
		WithDialOptions(grpc.WithChainUnaryInterceptor(unary), grpc.WithChainStreamInterceptor(stream)))
	conn := c.Conn()
	conn.Connect()
	for st := conn.GetState(); st != connectivity.Ready; st = conn.GetState() {
		if !conn.WaitForStateChange(ctx, st) {
			t.Fatal("the main connection was not ready in time")
		}
	}
	if resp, err := drillOf(c).Work(ctx, &drillv1.WorkRequest{}); err != nil || resp.GetHostname() != "main" {
		t.Fatalf("warm-up call: %v from %q, want an answer from main", err, resp.GetHostname())
	}
	return c, func() func() bool {
		armed.Store(true)
		return func() bool { return !armed.Load() }
	}
}

// TestIdempotentCallDoesNotStallInTheRaceWindow: the main connection's last
// ready pod turns NOT_SERVING after routeUnary found the connection ready
// and before the attempt picks a pod. The attempt must go to the fallback at
// once, not wait for a ready pod on the main connection until its
// per-attempt timeout (30 s, past the call's deadline).
func TestIdempotentCallDoesNotStallInTheRaceWindow(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, arm := raceWindow(t, ctx)
	ran := arm()
	resp, err := drillOf(c).Work(ctx, &drillv1.WorkRequest{})
	if !ran() {
		t.Fatal("the hook never ran: the test proved nothing")
	}
	if err != nil || resp.GetHostname() != "fallback" {
		t.Fatalf("a call whose pod turned NOT_SERVING before the pick: %v from %q, want an answer from the fallback", err, resp.GetHostname())
	}
}

// TestStreamDoesNotStallInTheRaceWindow: the same for a stream, which has no
// per-attempt timeout at all: Follow must get its events from the fallback.
func TestStreamDoesNotStallInTheRaceWindow(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, arm := raceWindow(t, ctx)
	ran := arm()
	var from []string
	err := followWatch(ctx, c, nil, func(e *drillv1.WatchResponse) error {
		from = append(from, e.GetHostname())
		return nil
	})
	if !ran() {
		t.Fatal("the hook never ran: the test proved nothing")
	}
	if err != nil || strings.Join(from, " ") != "fallback" {
		t.Fatalf("a stream whose pod turned NOT_SERVING before the pick: %v, events from %q, want one from the fallback", err, from)
	}
}

// watching is a drill whose Watch, on a stream opened without
// after_sequence, sends events 1 to events and then ends with end; a
// resumed stream fails with resumed at once. It counts the streams.
type watching struct {
	drillv1.UnimplementedDrillServer
	events  int
	end     error
	resumed error
	streams atomic.Int64
}

func (w *watching) Watch(req *drillv1.WatchRequest, stream drillv1.Drill_WatchServer) error {
	w.streams.Add(1)
	if req.GetAfterSequence() > 0 {
		return w.resumed
	}
	for i := range w.events {
		if err := stream.Send(&drillv1.WatchResponse{Sequence: uint64(i + 1)}); err != nil {
			return err
		}
	}
	return w.end
}

// TestFollowEndsWithTheStream: a stream that ends with OK ends Follow,
// with every event delivered.
func TestFollowEndsWithTheStream(t *testing.T) {
	w := &watching{events: 3}
	addr, _ := serveDrill(t, w)
	c := newClient(t, "passthrough:///"+addr)
	var got int
	err := followWatch(context.Background(), c, nil, func(*drillv1.WatchResponse) error { got++; return nil })
	if err != nil || got != 3 {
		t.Errorf("Follow = %v after %d events, want nil after 3", err, got)
	}
}

// TestFollowAttemptsAfterProgress: after a stream that delivered events, as
// many attempts in a row may fail as at the start.
func TestFollowAttemptsAfterProgress(t *testing.T) {
	const maxAttempts = 3
	unavailable := status.Error(codes.Unavailable, "draining")
	for _, tt := range []struct {
		name   string
		events int
		want   int64
	}{
		{name: "from the start", events: 0, want: maxAttempts},
		{name: "after progress", events: 2, want: 1 + maxAttempts},
	} {
		w := &watching{events: tt.events, end: unavailable, resumed: unavailable}
		addr, _ := serveDrill(t, w)
		c := newClient(t, "passthrough:///"+addr, WithMaxAttempts(maxAttempts), WithBackoff(time.Millisecond))
		err := followWatch(context.Background(), c, nil, func(*drillv1.WatchResponse) error { return nil })
		if status.Code(err) != codes.Unavailable {
			t.Errorf("%s: Follow = %v, want UNAVAILABLE", tt.name, err)
		}
		if n := w.streams.Load(); n != tt.want {
			t.Errorf("%s: %d streams, want %d", tt.name, n, tt.want)
		}
	}
}

// TestFollowGap: when the server can no longer replay what a resumed stream
// missed, Follow's error says so with ErrGap and keeps the server's status.
func TestFollowGap(t *testing.T) {
	w := &watching{
		events:  2,
		end:     status.Error(codes.Unavailable, "draining"),
		resumed: status.Error(codes.OutOfRange, "after_sequence is too far back"),
	}
	addr, _ := serveDrill(t, w)
	c := newClient(t, "passthrough:///"+addr, WithBackoff(time.Millisecond))
	var got int
	err := followWatch(context.Background(), c, nil, func(*drillv1.WatchResponse) error { got++; return nil })
	if !errors.Is(err, ErrGap) || status.Code(err) != codes.OutOfRange {
		t.Errorf("Follow = %v, want an error that matches ErrGap, with code OUT_OF_RANGE", err)
	}
	if got != 2 || w.streams.Load() != 2 {
		t.Errorf("%d events on %d streams, want 2 on 2: the events, then a refused resume", got, w.streams.Load())
	}

	// The caller's own after_sequence, too far back, is a gap as well.
	err = followWatch(context.Background(), c, &drillv1.WatchRequest{AfterSequence: 1}, func(*drillv1.WatchResponse) error { return nil })
	if !errors.Is(err, ErrGap) {
		t.Errorf("Follow from an old event = %v, want an error that matches ErrGap", err)
	}
}

// TestNewRejectsBadOptions: New refuses every option value it cannot work
// with, and names the option.
func TestNewRejectsBadOptions(t *testing.T) {
	for _, tt := range []struct {
		name string
		opt  Option
	}{
		{"WithTimeout", WithTimeout(0)},
		{"WithTimeout", WithTimeout(-time.Second)},
		{"WithMaxAttempts", WithMaxAttempts(0)},
		{"WithPerAttemptTimeout", WithPerAttemptTimeout(0)},
		{"WithPerAttemptTimeout", WithPerAttemptTimeout(-time.Second)},
		{"WithBackoff", WithBackoff(0)},
		{"WithBackoff", WithBackoff(-time.Millisecond)},
		{"WithMaxBackoff", WithMaxBackoff(DefaultBackoff - 1)},
		{"WithMaxBackoff", WithMaxBackoff(0)},
		{"WithRetryBudget", WithRetryBudget(-1, DefaultTokenRatio)},
		{"WithRetryBudget", WithRetryBudget(math.Inf(1), DefaultTokenRatio)},
		{"WithRetryBudget", WithRetryBudget(math.NaN(), DefaultTokenRatio)},
		{"WithRetryBudget", WithRetryBudget(DefaultMaxTokens, 0)},
		{"WithRetryBudget", WithRetryBudget(DefaultMaxTokens, -0.1)},
		{"WithRetryBudget", WithRetryBudget(DefaultMaxTokens, math.NaN())},
		{"WithRetryBudget", WithRetryBudget(10, 11)},
		{"WithTransportCredentials", WithTransportCredentials(nil)},
	} {
		c, err := New(context.Background(), "passthrough:///127.0.0.1:1", tt.opt)
		if err == nil {
			_ = c.Close()
			t.Errorf("New accepted a bad %s", tt.name)
			continue
		}
		if !strings.Contains(err.Error(), tt.name+"(") {
			t.Errorf("New's error %q does not name %s", err, tt.name)
		}
	}
	// The edges of what is allowed.
	for _, opts := range [][]Option{
		{WithMaxAttempts(1)},
		{WithRetryBudget(0, 0)},
		{WithRetryBudget(1, 1)},
		{WithMaxBackoff(DefaultBackoff)},
		{WithBackoff(2 * DefaultMaxBackoff)}, // the default cap makes way
		{WithBackoff(time.Second), WithMaxBackoff(time.Second)},
	} {
		c, err := New(context.Background(), "passthrough:///127.0.0.1:1", opts...)
		if err != nil {
			t.Errorf("New refused good options: %v", err)
			continue
		}
		_ = c.Close()
	}
}
