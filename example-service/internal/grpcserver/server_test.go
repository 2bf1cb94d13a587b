package grpcserver

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	drillv1 "github.com/zerodrop/zerodrop/example-service/api/exampleservice/drill/v1"
	"github.com/zerodrop/zerodrop/example-service/internal/drill"
	"github.com/zerodrop/zerodrop/example-service/internal/metrics"
	"github.com/zerodrop/zerodrop/example-service/internal/servicetest"
	"github.com/zerodrop/zerodrop/example-service/internal/version"
)

func TestMain(m *testing.M) {
	// glog flushes its buffers from a goroutine that lives as long as the process.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/golang/glog.(*fileSink).flushDaemon"))
}

// serve runs a server with the services on a loopback listener and returns
// a client connection.
func serve(t *testing.T, services ...func(grpc.ServiceRegistrar)) *grpc.ClientConn {
	t.Helper()
	return serveWith(t, Config{}, services...)
}

// serveWith is serve with cfg's Reflection.
func serveWith(t *testing.T, cfg Config, services ...func(grpc.ServiceRegistrar)) *grpc.ClientConn {
	t.Helper()
	info := version.Info{Version: "v1"}
	srv := New(Config{MaxConnectionAge: time.Minute, MaxConnectionAgeGrace: time.Second, Reflection: cfg.Reflection, Health: health.NewServer(), Metrics: metrics.New(info)}, services...)
	return servicetest.Loopback(t, srv)
}

// TestStreamsPerConnectionAreCapped: one connection holds at most
// MaxConcurrentStreams streams; the next waits for one to end. The streams
// are grpc.health.v1 Watches, which stay open and quiet.
func TestStreamsPerConnectionAreCapped(t *testing.T) {
	c := healthpb.NewHealthClient(serve(t, drill.New("v1", "pod-a", nil).Register))
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
	drillv1.UnimplementedDrillServer
}

func (panicky) Work(context.Context, *drillv1.WorkRequest) (*drillv1.WorkResponse, error) {
	panic("bug")
}

func (p panicky) register(s grpc.ServiceRegistrar) { drillv1.RegisterDrillServer(s, p) }

func TestPanicsBecomeInternalErrors(t *testing.T) {
	conn := serve(t, panicky{}.register)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := drillv1.NewDrillClient(conn).Work(ctx, &drillv1.WorkRequest{})
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
		return servicetest.ReflectedServices(ctx, conn)
	}
	found, err := list(serveWith(t, Config{Reflection: true}, panicky{}.register))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{drill.ServiceName, "grpc.health.v1.Health"} {
		if !found[want] {
			t.Errorf("reflection does not list %s: %v", want, found)
		}
	}
	// Off unless asked for: it shows the API to anyone who reaches the port.
	if found, err := list(serve(t, panicky{}.register)); status.Code(err) != codes.Unimplemented {
		t.Errorf("reflection without Config.Reflection = %v, %v; want Unimplemented", found, err)
	}
}
