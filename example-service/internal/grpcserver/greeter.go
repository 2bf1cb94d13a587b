package grpcserver

import (
	"context"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	exampleservicev1 "github.com/zerodrop/zerodrop/example-service/api/exampleservice/v1"
	"github.com/zerodrop/zerodrop/example-service/internal/version"
)

// ServiceName is the Greeter's full name, which grpc.health.v1 reports on
// alongside the whole server ("").
var ServiceName = exampleservicev1.Greeter_ServiceDesc.ServiceName

// Greeter implements the example API.
type Greeter struct {
	exampleservicev1.UnimplementedGreeterServer

	info     version.Info
	hostname string
	count    atomic.Int64
	// stopping is closed when graceful shutdown begins, so that Watch streams
	// end cleanly and their clients reconnect to another replica, instead of
	// being cut when the shutdown timeout expires.
	stopping <-chan struct{}
}

// NewGreeter returns the Greeter. stopping must be closed when the server
// begins its graceful stop.
func NewGreeter(info version.Info, hostname string, stopping <-chan struct{}) *Greeter {
	return &Greeter{info: info, hostname: hostname, stopping: stopping}
}

// SayHello implements Greeter.SayHello.
func (g *Greeter) SayHello(ctx context.Context, req *exampleservicev1.SayHelloRequest) (*exampleservicev1.SayHelloResponse, error) {
	if err := work(ctx, req.GetWorkMs()); err != nil {
		return nil, err
	}
	name := req.GetName()
	if name == "" {
		name = "world"
	}
	return &exampleservicev1.SayHelloResponse{
		Message:  "Hello, " + name + "!",
		Version:  g.info.Version,
		Hostname: g.hostname,
	}, nil
}

// GetVersion implements Greeter.GetVersion.
func (g *Greeter) GetVersion(context.Context, *exampleservicev1.GetVersionRequest) (*exampleservicev1.GetVersionResponse, error) {
	return &exampleservicev1.GetVersionResponse{
		Version:   g.info.Version,
		Revision:  g.info.Revision,
		GoVersion: g.info.GoVersion,
	}, nil
}

// Count implements Greeter.Count.
func (g *Greeter) Count(ctx context.Context, req *exampleservicev1.CountRequest) (*exampleservicev1.CountResponse, error) {
	if err := work(ctx, req.GetWorkMs()); err != nil {
		return nil, err
	}
	return &exampleservicev1.CountResponse{Value: g.count.Add(1), Hostname: g.hostname}, nil
}

// Watch implements Greeter.Watch.
func (g *Greeter) Watch(req *exampleservicev1.WatchRequest, stream exampleservicev1.Greeter_WatchServer) error {
	interval := time.Duration(req.GetIntervalMs()) * time.Millisecond
	if interval <= 0 {
		interval = time.Second
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for seq := uint64(1); ; seq++ {
		msg := &exampleservicev1.WatchResponse{Version: g.info.Version, Hostname: g.hostname, Sequence: seq}
		if err := stream.Send(msg); err != nil {
			return err
		}
		select {
		case <-stream.Context().Done():
			return stream.Context().Err()
		case <-g.stopping:
			return nil
		case <-ticker.C:
		}
	}
}

// maxWork bounds simulated work.
const maxWork = 10 * time.Second

// work waits ms milliseconds, or until the call is cancelled.
func work(ctx context.Context, ms uint32) error {
	d := time.Duration(ms) * time.Millisecond
	if d > maxWork {
		return status.Errorf(codes.InvalidArgument, "work_ms %d is over the limit of %d", ms, maxWork.Milliseconds())
	}
	if d == 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
}
