package load

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	drillv1 "github.com/zerodrop/zerodrop/example-service/api/exampleservice/drill/v1"
	"github.com/zerodrop/zerodrop/example-service/client"
)

// GRPCClient calls the drill's Work at a constant rate over Conns
// long-lived client connections, round robin between them.
//
// With Dial nil it is the plain client of the issue: grpc.NewClient on the
// Service's ClusterIP, pick_first, no retry policy and no health checking.
// Each connection sticks to one pod chosen by kube-proxy, so only the
// server's GOAWAY (GracefulStop, MaxConnectionAge) moves it; this is the
// client that shows whether draining and MaxConnectionAge are enough.
// Dial plugs in another client, such as HeadlessDial, the service's
// generated retrying client.
type GRPCClient struct {
	Name   string
	Target string
	Route
	// TLS, if set, is the plain client's transport security, and
	// Authority its :authority: through a gateway, which terminates TLS,
	// routes by host name and sends each call to a pod.
	TLS         *tls.Config
	Authority   string
	Rate        int
	Conns       int
	Timeout     time.Duration
	MaxInFlight int
	// Dial opens one connection with opts added; nil means the plain client.
	Dial func(target string, opts ...grpc.DialOption) (grpc.ClientConnInterface, func() error, error)
	// Mode describes Dial in reports.
	Mode string
	// Count calls the drill's Count, which has a side effect and is never
	// retried, instead of Work. Its responses carry no version.
	Count bool
	// Retries says that Dial retries idempotent calls on another pod, so
	// that no disruption, a hard kill included, may fail one.
	Retries bool
}

// Describe implements Client.
func (c GRPCClient) Describe() Info {
	mode := c.Mode
	if mode == "" {
		mode = fmt.Sprintf("plain client, %d long-lived connections", c.Conns)
	}
	return Info{Name: c.Name, Protocol: "grpc", Rate: c.Rate, Mode: mode, Timeout: c.Timeout,
		Retries: c.Retries && !c.Count, NoVersion: c.Count, Tier: c.Tier, Path: c.Path}
}

// plainDial returns the plain client's Dial, over TLS with conf and with
// authority as the :authority if they are set.
func plainDial(conf *tls.Config, authority string) func(target string, opts ...grpc.DialOption) (grpc.ClientConnInterface, func() error, error) {
	creds := insecure.NewCredentials()
	if conf != nil {
		creds = credentials.NewTLS(conf)
	}
	return func(target string, opts ...grpc.DialOption) (grpc.ClientConnInterface, func() error, error) {
		// otelgrpc only passes the call's trace context on (and records the
		// attempt), as any traced client would; it changes nothing else.
		opts = append(opts, grpc.WithTransportCredentials(creds), grpc.WithStatsHandler(otelgrpc.NewClientHandler()))
		if authority != "" {
			opts = append(opts, grpc.WithAuthority(authority))
		}
		cc, err := grpc.NewClient("passthrough:///"+target, opts...)
		if err != nil {
			return nil, nil, fmt.Errorf("grpc client %s: %w", target, err)
		}
		return cc, cc.Close, nil
	}
}

// HeadlessDial returns a Dial for example-service's own generated client
// (example-service/client): DNS through the headless Service, round_robin,
// client-side health checking, retries of idempotent calls with backoff, and
// fallback, the ClusterIP Service's address, for calls while no pod it knows
// of is ready (after a caching DNS hid new ones), so that the proof tests
// what users get from client.NewInCluster.
func HeadlessDial(fallback string) func(target string, opts ...grpc.DialOption) (grpc.ClientConnInterface, func() error, error) {
	return func(target string, opts ...grpc.DialOption) (grpc.ClientConnInterface, func() error, error) {
		c, err := client.New(context.Background(), target, client.WithDialOptions(opts...), client.WithFallback(fallback))
		if err != nil {
			return nil, nil, fmt.Errorf("generated client %s: %w", target, err)
		}
		return c.Conn(), c.Close, nil
	}
}

// attempts counts the attempts of one call: grpc-go retries below the
// interceptors (transparent retries, retryPolicy), so only a stats handler
// sees each one. tries are those that went out on a connection, with the
// pod address each went to.
type attempts struct {
	n, failed atomic.Int32
	mu        sync.Mutex
	tries     []Try
}

type attemptsKey struct{}

// tracker is the stats.Handler of every gRPC connection the load opens. It
// counts attempts into the call's *attempts, found in the context the call
// was made with, and records each connection's opening and closing with the
// pod address it is to: a pod whose network is cut closes nothing, so only
// the client's side can say when it gave up on a connection.
type tracker struct {
	rec    *Recorder
	client int
}

type connKey struct{}

// connTag names one connection in its events.
type connTag struct {
	id          uint64
	peer, local string
}

func (t *tracker) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }

func (t *tracker) TagConn(ctx context.Context, info *stats.ConnTagInfo) context.Context {
	tag := connTag{id: t.rec.connIDs.Add(1), peer: hostOf(info.RemoteAddr)}
	if info.LocalAddr != nil {
		tag.local = info.LocalAddr.String()
	}
	return context.WithValue(ctx, connKey{}, tag)
}

func (t *tracker) HandleConn(ctx context.Context, s stats.ConnStats) {
	tag, ok := ctx.Value(connKey{}).(connTag)
	if !ok {
		return
	}
	e := ConnEvent{Client: t.client, ID: tag.id, Peer: tag.peer, At: time.Since(t.rec.start)}
	switch s.(type) {
	case *stats.ConnBegin:
		t.rec.addConn(e, tag.local)
	case *stats.ConnEnd:
		e.Closed = true
		t.rec.addConn(e, tag.local)
	}
}

func (t *tracker) HandleRPC(ctx context.Context, s stats.RPCStats) {
	a, _ := ctx.Value(attemptsKey{}).(*attempts)
	if a == nil {
		return
	}
	switch ev := s.(type) {
	case *stats.Begin:
		a.n.Add(1)
	case *stats.OutHeader:
		try := Try{Peer: hostOf(ev.RemoteAddr), At: time.Since(t.rec.start)}
		if ev.LocalAddr != nil {
			try.Conn = t.rec.connOf(ev.LocalAddr.String())
		}
		a.mu.Lock()
		a.tries = append(a.tries, try)
		a.mu.Unlock()
	case *stats.End:
		if ev.Error != nil {
			a.failed.Add(1)
		}
	}
}

// hostOf is an address without its port: the pod, whichever port it serves on.
func hostOf(a net.Addr) string {
	if a == nil {
		return ""
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}

func (c GRPCClient) run(ctx context.Context, rec *Recorder, idx int, take func() bool) {
	dial := c.Dial
	if dial == nil {
		dial = plainDial(c.TLS, c.Authority)
	}
	var drills []drillv1.DrillClient
	for range c.Conns {
		cc, closeFn, err := dial(c.Target, grpc.WithStatsHandler(&tracker{rec: rec, client: idx}))
		if err != nil {
			rec.add(Sample{Client: idx, At: time.Since(rec.start), Error: err.Error()})
			return
		}
		defer closeFn()
		drills = append(drills, drillv1.NewDrillClient(cc))
	}
	var next atomic.Uint64
	pace(ctx, rec, idx, c.Rate, c.MaxInFlight, take, func(time.Duration) Sample {
		g := drills[next.Add(1)%uint64(len(drills))]
		var a attempts
		cctx, cancel := context.WithTimeout(context.WithValue(context.Background(), attemptsKey{}, &a), c.Timeout)
		defer cancel()
		cctx, span := tracer.Start(cctx, "call", trace.WithSpanKind(trace.SpanKindInternal))
		defer span.End()
		t0 := time.Now()
		var version, host, via, viaVersion string
		var err error
		if c.Count {
			var resp *drillv1.CountResponse
			resp, err = g.Count(cctx, &drillv1.CountRequest{})
			host = resp.GetHostname()
		} else {
			var resp *drillv1.WorkResponse
			resp, err = g.Work(cctx, &drillv1.WorkRequest{})
			version, host, via, viaVersion = resp.GetVersion(), resp.GetHostname(), resp.GetVia(), resp.GetViaVersion()
		}
		s := Sample{Latency: time.Since(t0), Conns: int(a.n.Load()), FailedAttempts: int(a.failed.Load()), Trace: traceOf(span)}
		a.mu.Lock()
		s.Tries = a.tries
		a.mu.Unlock()
		if err != nil {
			s.Error = grpcError(err)
			return s
		}
		s.OK, s.Version, s.Host, s.Via, s.ViaVersion = true, version, host, via, viaVersion
		return s
	})
}

// grpcError classifies a failed call by status code and a short cause, so
// that failures group into a few countable classes (no addresses).
func grpcError(err error) string {
	st, ok := status.FromError(err)
	if !ok {
		return Classify(err)
	}
	msg := st.Message()
	cause := ""
	for _, c := range []string{"connection refused", "connection reset", "connection timed out", "EOF", "GOAWAY", "no such host", "deadline exceeded", "error reading from server"} {
		if strings.Contains(msg, c) {
			cause = c
			break
		}
	}
	if strings.Contains(msg, "max retries exhausted") {
		cause = "retries exhausted, last: " + cmp.Or(cause, "other")
	}
	if cause == "" {
		cause = addr.ReplaceAllString(msg, "ADDR")
		if len(cause) > 60 {
			cause = cause[:60]
		}
	}
	return fmt.Sprintf("grpc %s: %s", st.Code(), cause)
}

var addr = regexp.MustCompile(`\d+\.\d+\.\d+\.\d+(:\d+)?`)
