// Package drill is the runtime's own small API for the zero-drop proofs: a
// gRPC service (Work, Count, Watch) and an HTTP route with the knobs the
// proofs need. The service's tests, its load command and the cluster proof
// drive it instead of your API, so they hold whatever API you serve. The
// service registers it only with --drill; see Register.
package drill

import (
	"context"
	"encoding/json"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/golang/glog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	drillv1 "github.com/zerodrop/zerodrop/example-service/api/exampleservice/drill/v1"
	"github.com/zerodrop/zerodrop/example-service/internal/httpserver"
)

// ServiceName is the drill's gRPC service, for grpc.health.v1.
var ServiceName = drillv1.Drill_ServiceDesc.ServiceName

// Drill implements the drill's gRPC service.
type Drill struct {
	drillv1.UnimplementedDrillServer

	version  string
	hostname string
	count    atomic.Int64
	// stopping is closed when graceful shutdown begins, so that Watch streams
	// end with UNAVAILABLE and their clients resume on another replica,
	// instead of being cut when the shutdown timeout expires.
	stopping <-chan struct{}
	// upstream, when set, answers Work and GET /drill/work: another tier's
	// drill, through the generated client.
	upstream drillv1.DrillClient
}

// New returns the drill. stopping must be closed when the server begins
// its graceful stop.
func New(version, hostname string, stopping <-chan struct{}) *Drill {
	return &Drill{version: version, hostname: hostname, stopping: stopping}
}

// RelayTo makes Work and GET /drill/work calls to up, the drill of the next
// tier, so that a proof's calls cross tiers as a real system's do. It
// returns d.
func (d *Drill) RelayTo(up drillv1.DrillClient) *Drill {
	d.upstream = up
	return d
}

// Register adds the drill's gRPC service to s.
func (d *Drill) Register(s grpc.ServiceRegistrar) { drillv1.RegisterDrillServer(s, d) }

// Routes are the drill's HTTP routes.
func (d *Drill) Routes() []httpserver.Route {
	return []httpserver.Route{
		{Pattern: "GET /drill/work", Name: "drill_work", Handler: http.HandlerFunc(d.work)},
	}
}

// Work implements Drill.Work.
func (d *Drill) Work(ctx context.Context, req *drillv1.WorkRequest) (*drillv1.WorkResponse, error) {
	if d.upstream != nil {
		return d.relay(ctx, req)
	}
	if err := work(ctx, req.GetWorkMs()); err != nil {
		return nil, err
	}
	return &drillv1.WorkResponse{Version: d.version, Hostname: d.hostname}, nil
}

// relay answers a Work call from the upstream, with the caller's context:
// its deadline and cancellation reach the upstream, and the upstream's
// client retries there what may be retried. A failure is the upstream's
// code, with a negative pushback (gRFC A6) that tells the caller's client
// not to retry it too, since retries at every tier multiply.
func (d *Drill) relay(ctx context.Context, req *drillv1.WorkRequest) (*drillv1.WorkResponse, error) {
	resp, err := d.upstream.Work(ctx, req)
	if err != nil {
		_ = grpc.SetTrailer(ctx, metadata.Pairs(pushbackKey, "-1"))
		s := status.Convert(err)
		return nil, status.Errorf(s.Code(), "upstream: %s", s.Message())
	}
	resp.Via, resp.ViaVersion = d.hostname, d.version
	return resp, nil
}

// pushbackKey is the trailer in which a server tells clients when, or
// whether, to retry (gRFC A6).
const pushbackKey = "grpc-retry-pushback-ms"

// Count implements Drill.Count.
func (d *Drill) Count(ctx context.Context, req *drillv1.CountRequest) (*drillv1.CountResponse, error) {
	if err := work(ctx, req.GetWorkMs()); err != nil {
		return nil, err
	}
	return &drillv1.CountResponse{Value: d.count.Add(1), Hostname: d.hostname}, nil
}

// MaxSleep bounds the simulated latency of GET /drill/work?sleep=.
const MaxSleep = time.Minute

// workResponse is the body of GET /drill/work.
type workResponse struct {
	Version    string `json:"version"`
	Hostname   string `json:"hostname"`
	Via        string `json:"via,omitempty"`         // see WorkResponse.via
	ViaVersion string `json:"via_version,omitempty"` // see WorkResponse.via_version
}

// work serves GET /drill/work. The optional query parameter sleep (a Go
// duration, at most MaxSleep) simulates a slow request. It sleeps without
// watching the request context, like a handler stuck in a blocking call,
// which is what the shutdown timeout exists to bound.
//
// With an upstream, the request becomes a Work call there, with the
// request's context and the sleep as its work; a failed call is a 502.
func (d *Drill) work(w http.ResponseWriter, r *http.Request) {
	var sleep time.Duration
	if s := r.URL.Query().Get("sleep"); s != "" {
		t, err := time.ParseDuration(s)
		if err != nil || t < 0 || t > MaxSleep {
			http.Error(w, "sleep must be a duration from 0 to "+MaxSleep.String()+", e.g. 250ms", http.StatusBadRequest)
			return
		}
		sleep = t
	}
	body := workResponse{Version: d.version, Hostname: d.hostname}
	if d.upstream != nil {
		resp, err := d.upstream.Work(r.Context(), &drillv1.WorkRequest{WorkMs: uint32(sleep.Milliseconds())})
		if err != nil {
			http.Error(w, "upstream: "+status.Convert(err).Message(), http.StatusBadGateway)
			return
		}
		body = workResponse{Version: resp.GetVersion(), Hostname: resp.GetHostname(), Via: d.hostname, ViaVersion: d.version}
	} else {
		time.Sleep(sleep)
	}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(body); err != nil {
		// The client went away mid-response; nothing useful is left to send.
		glog.V(1).Infof("drill: write response: %v", err)
	}
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

// Watch implements Drill.Watch. Event n is due at n × interval since the
// Unix epoch, the same on every replica, so a stream resumed elsewhere with
// after_sequence neither skips nor repeats an event.
func (d *Drill) Watch(req *drillv1.WatchRequest, stream drillv1.Drill_WatchServer) error {
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
		case <-d.stopping:
			return errDraining
		case <-timer.C:
		}
		msg := &drillv1.WatchResponse{Version: d.version, Hostname: d.hostname, Sequence: next}
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
