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
	// end with UNAVAILABLE and their clients resume on another replica,
	// instead of being cut when the shutdown timeout expires.
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

// maxCatchUp bounds how far back a resumed Watch may start: a client that
// was away longer has missed too much to replay, and starts a new watch.
const maxCatchUp = 1000

// minInterval bounds how often a Watch sends: an interval of a millisecond
// would make one request a send loop.
const minInterval = 10 * time.Millisecond

// maxClockSkew bounds how far ahead of this replica's clock a resumed
// Watch's after_sequence may be. Another replica, whose clock is a little
// ahead, may have sent an event that is not due here yet; that one waits
// here until it is due. One far in the future is a client's mistake.
const maxClockSkew = 10 * time.Second

// errDraining ends Watch streams when the server stops. UNAVAILABLE, not OK:
// the stream did not end, this replica did, and the client should resume.
var errDraining = status.Error(codes.Unavailable, "the server is shutting down: resume the watch on another replica with after_sequence")

// Watch implements Greeter.Watch. Event n is due at n × interval since the
// Unix epoch, the same on every replica, so a stream resumed elsewhere with
// after_sequence neither skips nor repeats an event.
func (g *Greeter) Watch(req *exampleservicev1.WatchRequest, stream exampleservicev1.Greeter_WatchServer) error {
	interval := time.Second
	if ms := req.GetIntervalMs(); ms != 0 {
		interval = time.Duration(ms) * time.Millisecond
		if interval < minInterval {
			return status.Errorf(codes.InvalidArgument, "interval_ms %d is below the minimum of %d", ms, minInterval.Milliseconds())
		}
	}
	next := uint64(time.Now().UnixNano() / int64(interval)) // the current interval's event
	if after := req.GetAfterSequence(); after > 0 {
		switch {
		case after > next && after-next > uint64(maxClockSkew/interval):
			return status.Errorf(codes.InvalidArgument, "after_sequence %d is %d events ahead of the current event %d: resume with the last sequence received", after, after-next, next)
		case after+maxCatchUp < next:
			return status.Errorf(codes.OutOfRange, "after_sequence %d is %d events back, more than the %d a watch may catch up on: start a new watch without it", after, next-after, maxCatchUp)
		}
		next = after + 1
	}
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for ; ; next++ {
		// Wait until the event is due; an event already due (catching up)
		// goes at once.
		due := time.Unix(0, int64(next)*int64(interval))
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
		} else {
			timer.Reset(0)
		}
		select {
		case <-stream.Context().Done():
			return stream.Context().Err()
		case <-g.stopping:
			return errDraining
		case <-timer.C:
		}
		msg := &exampleservicev1.WatchResponse{Version: g.info.Version, Hostname: g.hostname, Sequence: next}
		if err := stream.Send(msg); err != nil {
			return err
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
