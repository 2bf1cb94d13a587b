package grpcserver

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	exampleservicev1 "github.com/zerodrop/zerodrop/example-service/api/exampleservice/v1"
	"github.com/zerodrop/zerodrop/example-service/internal/metrics"
	"github.com/zerodrop/zerodrop/example-service/internal/version"
)

func TestMain(m *testing.M) {
	// glog flushes its buffers from a goroutine that lives as long as the process.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/golang/glog.(*fileSink).flushDaemon"))
}

// serve runs greeter on a loopback listener and returns a client connection.
func serve(t *testing.T, greeter exampleservicev1.GreeterServer) *grpc.ClientConn {
	t.Helper()
	return serveWith(t, Config{}, greeter)
}

// serveWith is serve with cfg's Reflection.
func serveWith(t *testing.T, cfg Config, greeter exampleservicev1.GreeterServer) *grpc.ClientConn {
	t.Helper()
	info := version.Info{Version: "v1"}
	srv := New(Config{MaxConnectionAge: time.Minute, MaxConnectionAgeGrace: time.Second, Reflection: cfg.Reflection, Health: health.NewServer(), Metrics: metrics.New(info)}, greeter)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func TestGreeter(t *testing.T) {
	stopping := make(chan struct{})
	c := exampleservicev1.NewGreeterClient(serve(t, NewGreeter(version.Info{Version: "v1"}, "pod-a", stopping)))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	hello, err := c.SayHello(ctx, &exampleservicev1.SayHelloRequest{Name: "Ada", WorkMs: 10})
	if err != nil || hello.GetMessage() != "Hello, Ada!" || hello.GetVersion() != "v1" || hello.GetHostname() != "pod-a" {
		t.Errorf("SayHello = %v, %v", hello, err)
	}
	if _, err := c.SayHello(ctx, &exampleservicev1.SayHelloRequest{WorkMs: 60000}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("SayHello with too much work: %v, want InvalidArgument", err)
	}
	for want := int64(1); want <= 2; want++ {
		if n, err := c.Count(ctx, &exampleservicev1.CountRequest{}); err != nil || n.GetValue() != want {
			t.Errorf("Count = %v, %v; want %d", n, err, want)
		}
	}
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	if _, err := c.Count(short, &exampleservicev1.CountRequest{WorkMs: 5000}); status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("Count past its deadline: %v", err)
	}

	// A new watch starts at the current interval and counts up by one.
	stream, err := c.Watch(ctx, &exampleservicev1.WatchRequest{IntervalMs: 10})
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if now := uint64(time.Now().UnixMilli() / 10); err != nil || first.GetSequence() > now || first.GetSequence()+100 < now {
		t.Fatalf("first Watch message = %v, %v; want about the current interval %d", first, err, now)
	}
	for want := first.GetSequence() + 1; want <= first.GetSequence()+3; want++ {
		if msg, err := stream.Recv(); err != nil || msg.GetSequence() != want {
			t.Fatalf("Watch message = %v, %v; want sequence %d", msg, err, want)
		}
	}

	// A resumed watch catches up at once on what it missed, in order: 50
	// events of 100 ms that were due come well before the 5 s they span.
	resumeAfter := uint64(time.Now().UnixMilli()/100) - 50
	resumed, err := c.Watch(ctx, &exampleservicev1.WatchRequest{IntervalMs: 100, AfterSequence: resumeAfter})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for want := resumeAfter + 1; want <= resumeAfter+50; want++ {
		if msg, err := resumed.Recv(); err != nil || msg.GetSequence() != want {
			t.Fatalf("resumed Watch message = %v, %v; want sequence %d", msg, err, want)
		}
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("catching up on 50 missed events took %v; they were due, so they should come at once", took)
	}

	// Too far back to replay.
	old, err := c.Watch(ctx, &exampleservicev1.WatchRequest{IntervalMs: 10, AfterSequence: first.GetSequence() - 5000})
	if err == nil {
		_, err = old.Recv()
	}
	if status.Code(err) != codes.OutOfRange {
		t.Errorf("Watch 5000 events back = %v, want OutOfRange", err)
	}

	// Stopping ends the stream with UNAVAILABLE: resume elsewhere.
	close(stopping)
	for {
		if _, err := stream.Recv(); err != nil {
			if status.Code(err) != codes.Unavailable {
				t.Errorf("Watch ended with %v, want UNAVAILABLE once the server is stopping", err)
			}
			break
		}
	}
}

// TestWatchBounds: a Watch cannot be made into a send loop, by a tiny
// interval or by an after_sequence so far ahead that its due time
// overflows, and an after_sequence a little ahead (another replica's clock
// was ahead) waits until its event is due.
func TestWatchBounds(t *testing.T) {
	c := exampleservicev1.NewGreeterClient(serve(t, NewGreeter(version.Info{Version: "v1"}, "pod-a", nil)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	recv := func(req *exampleservicev1.WatchRequest) (*exampleservicev1.WatchResponse, error) {
		stream, err := c.Watch(ctx, req)
		if err != nil {
			return nil, err
		}
		return stream.Recv()
	}
	now := uint64(time.Now().UnixMilli() / 100)
	for _, req := range []*exampleservicev1.WatchRequest{
		{IntervalMs: 1},
		{IntervalMs: 9},
		{IntervalMs: 100, AfterSequence: now + 1000},
		{IntervalMs: 100, AfterSequence: 1 << 62},
		{IntervalMs: 10, AfterSequence: math.MaxUint64},
	} {
		if msg, err := recv(req); status.Code(err) != codes.InvalidArgument {
			t.Errorf("Watch(%v) = %v, %v; want InvalidArgument", req, msg, err)
		}
	}
	start := time.Now()
	ahead := uint64(time.Now().UnixMilli()/100) + 3
	msg, err := recv(&exampleservicev1.WatchRequest{IntervalMs: 100, AfterSequence: ahead})
	if err != nil || msg.GetSequence() != ahead+1 {
		t.Fatalf("Watch 3 events ahead = %v, %v; want sequence %d", msg, err, ahead+1)
	}
	if due := time.UnixMilli(int64(ahead+1) * 100); time.Now().Before(due) {
		t.Errorf("event %d came at %v, before it was due at %v", ahead+1, time.Now(), due)
	}
	t.Logf("an event 3 ahead came after %v", time.Since(start))
}

// TestStreamsPerConnectionAreCapped: one connection holds at most
// MaxConcurrentStreams streams; the next waits for one to end. The streams
// are grpc.health.v1 Watches, which stay open and quiet.
func TestStreamsPerConnectionAreCapped(t *testing.T) {
	c := healthpb.NewHealthClient(serve(t, NewGreeter(version.Info{Version: "v1"}, "pod-a", nil)))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var first context.CancelFunc
	for i := range MaxConcurrentStreams {
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		if i == 0 {
			first = cancel
		}
		// A client opens a stream only while the server's
		// SETTINGS_MAX_CONCURRENT_STREAMS allows.
		if _, err := c.Watch(sctx, &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatalf("stream %d: %v", i+1, err)
		}
	}
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	if _, err := c.Watch(short, &healthpb.HealthCheckRequest{}); status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("stream %d on one connection = %v, want it to wait (DeadlineExceeded)", MaxConcurrentStreams+1, err)
	}
	first()
	if _, err := c.Watch(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("a stream after one ended: %v", err)
	}
}

// panicky fails the way a buggy handler would.
type panicky struct {
	exampleservicev1.UnimplementedGreeterServer
}

func (panicky) SayHello(context.Context, *exampleservicev1.SayHelloRequest) (*exampleservicev1.SayHelloResponse, error) {
	panic("bug")
}

func TestPanicsBecomeInternalErrors(t *testing.T) {
	conn := serve(t, panicky{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := exampleservicev1.NewGreeterClient(conn).SayHello(ctx, &exampleservicev1.SayHelloRequest{})
	if status.Code(err) != codes.Internal {
		t.Errorf("a panicking handler returned %v, want Internal", err)
	}
	// The server survived it.
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("health check after the panic: %v", err)
	}
}

func TestReflection(t *testing.T) {
	list := func(conn *grpc.ClientConn) (map[string]bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
		if err != nil {
			return nil, err
		}
		defer func() { _ = stream.CloseSend() }()
		// A stream the server has already ended fails Send with io.EOF; its
		// status comes from Recv.
		if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		resp, err := stream.Recv()
		if err != nil {
			return nil, err
		}
		found := map[string]bool{}
		for _, s := range resp.GetListServicesResponse().GetService() {
			found[s.GetName()] = true
		}
		return found, nil
	}
	found, err := list(serveWith(t, Config{Reflection: true}, panicky{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{ServiceName, "grpc.health.v1.Health"} {
		if !found[want] {
			t.Errorf("reflection does not list %s: %v", want, found)
		}
	}
	// Off unless asked for: it shows the API to anyone who reaches the port.
	if found, err := list(serve(t, panicky{})); status.Code(err) != codes.Unimplemented {
		t.Errorf("reflection without Config.Reflection = %v, %v; want Unimplemented", found, err)
	}
}
