// Package client is the Go client for example-service, for other services to import.
// It loses no idempotent call across rolling updates and pod loss:
//
//   - It resolves the headless Service through DNS and balances every call
//     across the ready pods (round_robin), instead of pinning one pod per
//     connection as a ClusterIP Service would.
//   - It watches each pod's grpc.health.v1 status, so a pod that starts
//     draining stops receiving calls at once, before DNS or kube-proxy catch up.
//   - It retries only methods whose proto declares them free of side
//     effects (idempotency_level); other calls are never retried, because a
//     retried call may run twice. An idempotent call is retried, up to a
//     bounded number of attempts, when an attempt failed with UNAVAILABLE,
//     got no answer within the per-attempt timeout while the caller still
//     waited, or failed with RESOURCE_EXHAUSTED and a server's pushback
//     (gRFC A6) asking for the retry. The caller's own deadline or
//     cancellation ends the call; it is never retried.
//   - Between attempts it waits as the server asked (grpc-retry-pushback-ms),
//     or else with exponential backoff and jitter, capped at a maximum. A
//     negative or malformed pushback forbids the retry, and a retry whose wait
//     would outlast the call's deadline is not made: the call fails at once
//     with the server's error.
//   - A retry budget (gRFC A6 retryThrottling) stops retries while most
//     attempts fail, so that a struggling service is not sent four times its
//     load: every failed attempt costs a token, a timed-out one included, and
//     so does a pushback that forbids retries.
//   - Every call has a deadline: the caller's, or DefaultTimeout. An
//     idempotent call waits for a ready pod (WaitForReady) within that
//     deadline, each attempt bounded by the per-attempt timeout, so that it
//     outlasts a moment with no pod instead of failing at once; when no pod
//     comes, it fails with DEADLINE_EXCEEDED. Each attempt that waited out its
//     per-attempt timeout costs a retry token, so a long outage under many
//     calls spends the budget, and calls then end at the per-attempt timeout.
//     Other calls fail at once with UNAVAILABLE when no pod is ready.
//   - Follow keeps a Watch stream going across pods: a pod that drains ends
//     its streams with UNAVAILABLE, and Follow resumes on another pod from the
//     last event it delivered, so the caller sees every event once, in order,
//     unless it was away for longer than the server replays (ErrGap).
//   - New checks every option, and returns an error that names the one it
//     cannot work with, rather than a client that fails later.
//
// Pods come and go faster than DNS says so: the client resolves the name
// with a resolver of its own (resolver.go), per connection, which looks again
// at least every few seconds and whenever a connection breaks, retries a
// failed lookup within seconds, and ignores TXT service config. The server's
// MaxConnectionAge closes connections periodically as well, so that calls
// spread onto pods added by a scale-up.
//
// No DNS client can see past the cluster DNS's cache, though: a stock
// CoreDNS caches answers for 30 s, so for up to about 35 s the client may
// know only pods that are gone, as after a node drain evicted them one by
// one. WithFallback covers that window with the Service's ClusterIP, whose
// one address no cache can make stale and behind which kube-proxy always
// routes to ready pods: calls go there whenever the headless connection has
// no ready pod, and return to per-call balancing as soon as it has one
// again. With a fallback, an attempt or a stream on the headless connection
// never waits there for a ready pod: if none is left when it is sent, it goes
// to the fallback (and waits there, if the call waits). NewInCluster sets up
// both.
package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/health" // registers client-side health checking
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	exampleservicev1 "github.com/zerodrop/zerodrop/example-service/api/exampleservice/v1"
)

// DefaultTarget is the headless Service in its default namespace, in a
// cluster whose DNS domain is cluster.local. Elsewhere use Target, or pass
// your own target (outside the cluster, say).
const DefaultTarget = "dns:///example-service-headless.example-service.svc.cluster.local.:9090"

// DefaultFallbackTarget is the ClusterIP Service beside DefaultTarget: see
// WithFallback.
const DefaultFallbackTarget = "dns:///example-service.example-service.svc.cluster.local.:9090"

// Target is the headless Service's target in namespace, for a cluster whose
// DNS domain is clusterDomain (cluster.local in most clusters). The name is
// fully qualified, with the trailing dot, so that each lookup is one query
// rather than one per search domain of the pod's resolv.conf (ndots:5).
func Target(namespace, clusterDomain string) string {
	return fmt.Sprintf("dns:///example-service-headless.%s.svc.%s.:9090", namespace, strings.TrimSuffix(clusterDomain, "."))
}

// FallbackTarget is the ClusterIP Service's target in namespace, for
// WithFallback, fully qualified like Target's.
func FallbackTarget(namespace, clusterDomain string) string {
	return fmt.Sprintf("dns:///example-service.%s.svc.%s.:9090", namespace, strings.TrimSuffix(clusterDomain, "."))
}

// Defaults. Every one is an Option.
const (
	// DefaultTimeout is the deadline of a call whose context has none. It also
	// bounds all of a call's retries together.
	DefaultTimeout = 5 * time.Second
	// DefaultMaxAttempts counts the first attempt too: 1 means no retry.
	// Four attempts span about 350 ms of backoff, longer than a pod takes to
	// drop out of the balancer after it fails.
	DefaultMaxAttempts = 4
	// DefaultPerAttemptTimeout stops one slow pod from using up the whole
	// deadline, so that a retry can still reach another pod.
	DefaultPerAttemptTimeout = 2 * time.Second
	// DefaultBackoff is the base of the exponential backoff between attempts
	// (50 ms, 100 ms, 200 ms, ...), each with ±20% jitter so that clients that
	// failed together do not retry together.
	DefaultBackoff = 50 * time.Millisecond
	// DefaultMaxBackoff caps that backoff, before jitter, so that a long run
	// of Follow's resumes, or many attempts, keep trying about once a second.
	DefaultMaxBackoff = time.Second
	backoffJitter     = 0.2
)

// Keepalive pings find a dead connection (a pod that vanished without a FIN)
// within Time + Timeout instead of the kernel's minutes. Time must stay at or
// above the server's enforcement MinTime (10s), or the server answers with
// GOAWAY too_many_pings.
var keepaliveParams = keepalive.ClientParameters{
	Time:                20 * time.Second,
	Timeout:             5 * time.Second,
	PermitWithoutStream: true,
}

// connectParams paces reconnects to an address whose connection broke or
// was refused. gRPC's default waits 1 s after the first failure, then 1.6 s,
// 2.6 s and on: a killed pod restarts on the same address within about a
// second, and a reconnect through the ClusterIP fallback lands on another
// pod at each try, so waiting that long held every call meant for that
// connection for a second after a pod was killed. Reconnects are cheap (a
// refused SYN), so the first comes after 100 ms and they slow down to one
// every 5 s for an address that stays gone, until re-resolution drops it.
// A connect may still take as long as gRPC's default allows (20 s): a zero
// here would cut each one off at the backoff delay.
var connectParams = grpc.ConnectParams{
	Backoff: backoff.Config{
		BaseDelay:  100 * time.Millisecond,
		Multiplier: 1.6,
		Jitter:     0.2,
		MaxDelay:   5 * time.Second,
	},
	MinConnectTimeout: 20 * time.Second,
}

// serviceConfig balances per call across all resolved addresses and skips
// any pod whose health service reports NOT_SERVING.
const serviceConfig = `{
  "loadBalancingConfig": [{"round_robin": {}}],
  "healthCheckConfig": {"serviceName": ""}
}`

// Client is a connection to example-service with the Greeter API.
type Client struct {
	exampleservicev1.GreeterClient
	conn     *grpc.ClientConn
	fallback *grpc.ClientConn // nil without WithFallback
	opts     options
}

type options struct {
	timeout           time.Duration
	maxAttempts       uint
	perAttemptTimeout time.Duration
	backoff           time.Duration
	maxBackoff        time.Duration
	maxBackoffSet     bool
	creds             credentials.TransportCredentials
	onRetry           func(method string, attempt uint, err error)
	dialOptions       []grpc.DialOption
	maxTokens         float64
	tokenRatio        float64
	resolveEvery      time.Duration
	fallback          string
}

// Option changes a default. New rejects an option whose value it cannot
// work with, with an error that names the option.
type Option func(*options)

// WithTimeout sets the deadline for calls whose context has none. It must be
// positive: a call without a deadline could hang for ever.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithMaxAttempts sets the total number of attempts for idempotent calls,
// the first included, and for Follow the number of streams in a row that
// may deliver nothing. It must be at least 1; 1 turns retries off.
func WithMaxAttempts(n uint) Option { return func(o *options) { o.maxAttempts = n } }

// WithPerAttemptTimeout bounds each attempt of an idempotent call, so that
// one slow pod cannot use up the call's deadline. It must be positive; one
// at least as long as the deadline lets a single attempt use all of it. An
// attempt it ends costs a retry token, as any failed attempt does.
func WithPerAttemptTimeout(d time.Duration) Option {
	return func(o *options) { o.perAttemptTimeout = d }
}

// WithBackoff sets the base of the exponential backoff. It must be positive.
func WithBackoff(d time.Duration) Option { return func(o *options) { o.backoff = d } }

// WithMaxBackoff caps the exponential backoff, before jitter, for unary
// retries and Follow's resumes alike. It must be at least the backoff's base
// (WithBackoff). The default is DefaultMaxBackoff, or the base if that is
// longer.
func WithMaxBackoff(d time.Duration) Option {
	return func(o *options) { o.maxBackoff = d; o.maxBackoffSet = true }
}

// WithTransportCredentials replaces the default plaintext transport, e.g.
// for TLS through a mesh-less network. It must not be nil.
func WithTransportCredentials(c credentials.TransportCredentials) Option {
	return func(o *options) { o.creds = c }
}

// WithOnRetry calls f before every retry, once its wait is over, with the
// full name of the method retried ("/package.Service/Method"), the attempt
// about to be made (2 for the first retry) and the error that caused it, so
// that callers can count failed attempts apart from failed calls.
func WithOnRetry(f func(method string, attempt uint, err error)) Option {
	return func(o *options) { o.onRetry = f }
}

// WithResolveEvery sets how often each connection looks its DNS name up
// again when nothing broke (default DefaultResolveEvery, at least
// MinResolutionInterval).
func WithResolveEvery(d time.Duration) Option {
	return func(o *options) { o.resolveEvery = max(d, MinResolutionInterval) }
}

// WithRetryBudget sets the retry throttling of gRFC A6: the bucket's size
// and the tokens a success earns back. Retries stop while the bucket is at
// or below half full. A maxTokens of 0 turns throttling off, and tokenRatio
// is then ignored; otherwise maxTokens must be positive and finite, and
// tokenRatio above 0 and at most maxTokens.
func WithRetryBudget(maxTokens, tokenRatio float64) Option {
	return func(o *options) { o.maxTokens, o.tokenRatio = maxTokens, tokenRatio }
}

// WithDialOptions adds grpc.DialOptions, e.g. interceptors for tracing. They
// apply to the fallback connection too; interceptors among them run once per
// attempt, on whichever connection the attempt goes.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOptions = append(o.dialOptions, opts...) }
}

// WithFallback sends calls and streams to target whenever the main
// connection has no ready pod: every pod it knows is draining or gone and
// DNS has not told it of new ones yet. target should be the Service's
// ClusterIP (FallbackTarget): kube-proxy routes each connection to a ready
// pod, and the pod's GOAWAY when it drains moves the connection on, so the
// fallback never goes stale. It balances per connection, not per call,
// which is why it is only the fallback. Retries, deadlines and the budget
// apply to it as to the main connection.
func WithFallback(target string) Option { return func(o *options) { o.fallback = target } }

// NewInCluster returns a client for the headless Service in namespace, with
// the ClusterIP Service as its fallback (see WithFallback), for a cluster
// whose DNS domain is clusterDomain (cluster.local in most clusters).
func NewInCluster(ctx context.Context, namespace, clusterDomain string, opts ...Option) (*Client, error) {
	opts = append([]Option{WithFallback(FallbackTarget(namespace, clusterDomain))}, opts...)
	return New(ctx, Target(namespace, clusterDomain), opts...)
}

// New returns a client for target, e.g. DefaultTarget, or
// "dns://10.0.0.10/name.namespace.svc.cluster.local:9090" to ask a specific DNS
// server. New never blocks: it starts resolving and connecting in the
// background. The context is accepted so that callers need not change if
// setup ever has to wait for something, such as credentials. It fails if an
// option's value is out of its range (see each Option).
func New(_ context.Context, target string, opts ...Option) (*Client, error) {
	o := options{
		timeout:           DefaultTimeout,
		maxAttempts:       DefaultMaxAttempts,
		perAttemptTimeout: DefaultPerAttemptTimeout,
		backoff:           DefaultBackoff,
		creds:             insecure.NewCredentials(),
		maxTokens:         DefaultMaxTokens,
		tokenRatio:        DefaultTokenRatio,
		resolveEvery:      DefaultResolveEvery,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if !o.maxBackoffSet {
		o.maxBackoff = max(DefaultMaxBackoff, o.backoff)
	}
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("client for %s: %w", target, err)
	}
	retrier := &retrier{
		maxAttempts:       o.maxAttempts,
		perAttemptTimeout: o.perAttemptTimeout,
		backoff:           backoffPolicy{base: o.backoff, max: o.maxBackoff},
		budget:            newBudget(o.maxTokens, o.tokenRatio),
		onRetry:           o.onRetry,
	}
	common := []grpc.DialOption{
		grpc.WithTransportCredentials(o.creds),
		// This connection's own dns resolver (resolver.go); nothing global.
		grpc.WithResolvers(dnsBuilder{every: o.resolveEvery}),
		// The service config given here is the only one: none from DNS TXT.
		grpc.WithDisableServiceConfig(),
		grpc.WithKeepaliveParams(keepaliveParams),
		grpc.WithConnectParams(connectParams),
		// grpc-go's own retry policy stays off, so attempts never multiply
		// with the client's own (retry.go). Transparent retries of calls that never
		// left the client (refused by GOAWAY) still happen, and are safe.
		grpc.WithDisableRetry(),
	}
	var fallback *grpc.ClientConn
	if o.fallback != "" {
		// pick_first, the default: one connection through the ClusterIP. It
		// has no interceptors of its own but the caller's: the main
		// connection's chain runs around every attempt, wherever it goes.
		var err error
		fallback, err = grpc.NewClient(o.fallback, append(slices.Clone(common), o.dialOptions...)...)
		if err != nil {
			return nil, fmt.Errorf("client fallback %s: %w", o.fallback, err)
		}
		fallback.Connect()
	}
	dialOpts := append(common,
		grpc.WithDefaultServiceConfig(serviceConfig),
		grpc.WithChainUnaryInterceptor(
			defaultDeadline(o.timeout),
			retrier.unary,
			routeUnary(fallback),
		),
		grpc.WithChainStreamInterceptor(routeStream(fallback)),
		grpc.WithStatsHandler(sentTracker{}),
	)
	conn, err := grpc.NewClient(target, append(dialOpts, o.dialOptions...)...)
	if err != nil {
		if fallback != nil {
			_ = fallback.Close()
		}
		return nil, fmt.Errorf("client for %s: %w", target, err)
	}
	conn.Connect()
	return &Client{GreeterClient: exampleservicev1.NewGreeterClient(conn), conn: conn, fallback: fallback, opts: o}, nil
}

// validate returns an error naming the first option whose value New cannot
// work with, and what would do.
func (o *options) validate() error {
	switch {
	case o.timeout <= 0:
		return fmt.Errorf("WithTimeout(%v): the deadline of calls without one must be positive, e.g. %v (DefaultTimeout)", o.timeout, DefaultTimeout)
	case o.maxAttempts == 0:
		return errors.New("WithMaxAttempts(0): the count includes the first attempt, so it must be at least 1 (1 turns retries off)")
	case o.perAttemptTimeout <= 0:
		return fmt.Errorf("WithPerAttemptTimeout(%v): must be positive, e.g. %v (DefaultPerAttemptTimeout); to let one attempt use the whole deadline, make it as long as the deadline", o.perAttemptTimeout, DefaultPerAttemptTimeout)
	case o.backoff <= 0:
		return fmt.Errorf("WithBackoff(%v): the base of the backoff must be positive, e.g. %v (DefaultBackoff)", o.backoff, DefaultBackoff)
	case o.maxBackoff < o.backoff:
		return fmt.Errorf("WithMaxBackoff(%v): the cap must be at least the backoff's base, %v (WithBackoff)", o.maxBackoff, o.backoff)
	case !(o.maxTokens >= 0) || math.IsInf(o.maxTokens, 0):
		return fmt.Errorf("WithRetryBudget(%v, %v): maxTokens must be a finite number of tokens, e.g. %v (DefaultMaxTokens), or 0 to turn the budget off", o.maxTokens, o.tokenRatio, DefaultMaxTokens)
	case o.maxTokens > 0 && !(o.tokenRatio > 0 && o.tokenRatio <= o.maxTokens):
		return fmt.Errorf("WithRetryBudget(%v, %v): tokenRatio must be above 0 and at most maxTokens, e.g. %v (DefaultTokenRatio); a maxTokens of 0 turns the budget off", o.maxTokens, o.tokenRatio, DefaultTokenRatio)
	case o.creds == nil:
		return errors.New("WithTransportCredentials(nil): pass credentials, e.g. insecure.NewCredentials() for plaintext")
	}
	return nil
}

// useFallback says whether an attempt should go to the fallback: the main
// connection has no ready pod. An idle one is woken for the attempts after.
func useFallback(cc, fallback *grpc.ClientConn) bool {
	if fallback == nil {
		return false
	}
	switch cc.GetState() {
	case connectivity.Ready:
		return false
	case connectivity.Idle:
		cc.Connect()
	}
	return true
}

// routeUnary runs closest to the wire, once per attempt, and sends the
// attempt to the fallback while the main connection has no ready pod.
//
// The main connection's state can change between that check and the pick:
// its last ready pod turns NOT_SERVING. So, when there is a fallback, the
// attempt on the main connection does not wait for a ready pod, even for an
// idempotent call: it fails in the client with UNAVAILABLE without ever
// being sent. Such an attempt goes to the fallback, with the caller's
// options (waiting there if the call waits), whatever the method's side
// effects, since no server has seen it; an attempt that was sent (headers
// handed to the transport, as sentTracker hears) is never sent again here.
func routeUnary(fallback *grpc.ClientConn) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if useFallback(cc, fallback) {
			return fallback.Invoke(ctx, method, req, reply, opts...)
		}
		if fallback == nil {
			return invoker(ctx, method, req, reply, cc, opts...)
		}
		sent := new(atomic.Bool)
		mainOpts := append(slices.Clip(opts), grpc.WaitForReady(false))
		err := invoker(context.WithValue(ctx, sentKey{}, sent), method, req, reply, cc, mainOpts...)
		if status.Code(err) == codes.Unavailable && !sent.Load() && ctx.Err() == nil {
			return fallback.Invoke(ctx, method, req, reply, opts...)
		}
		return err
	}
}

// sentKey marks a call's context with the flag that sentTracker sets.
type sentKey struct{}

// sentTracker is the main connection's stats handler that records, in the
// flag routeUnary put in the call's context, that an attempt's headers went
// to the transport: from then on a server may have run it.
type sentTracker struct{}

func (sentTracker) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (sentTracker) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}
func (sentTracker) HandleConn(context.Context, stats.ConnStats) {}
func (sentTracker) HandleRPC(ctx context.Context, s stats.RPCStats) {
	if _, ok := s.(*stats.OutHeader); !ok {
		return
	}
	if sent, ok := ctx.Value(sentKey{}).(*atomic.Bool); ok {
		sent.Store(true)
	}
}

// routeStream does the same for streams, when each one opens: a stream that
// waits for a ready pod would otherwise wait on the main connection for as
// long as its context allows.
func routeStream(fallback *grpc.ClientConn) grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		if useFallback(cc, fallback) {
			return fallback.NewStream(ctx, desc, method, opts...)
		}
		if fallback == nil {
			return streamer(ctx, desc, cc, method, opts...)
		}
		sent := new(atomic.Bool)
		mainOpts := append(slices.Clip(opts), grpc.WaitForReady(false))
		stream, err := streamer(context.WithValue(ctx, sentKey{}, sent), desc, cc, method, mainOpts...)
		if status.Code(err) == codes.Unavailable && !sent.Load() && ctx.Err() == nil {
			return fallback.NewStream(ctx, desc, method, opts...)
		}
		return stream, err
	}
}

// Follow runs a Watch and calls f with each event until ctx ends, f returns
// an error, or the stream fails for good. A nil req is an empty one. When a
// stream breaks with UNAVAILABLE (its pod drained, or the connection died),
// Follow opens a new one with after_sequence set to the last event f got, on
// whichever pod is ready: the server replays what was missed, so f sees
// every event exactly once and in order.
//
// The server replays at most 1000 events (see WatchRequest.after_sequence).
// If a stream opened with after_sequence, Follow's or the caller's, is
// refused with OUT_OF_RANGE because more events than that went by, Follow
// returns an error that matches ErrGap, and keeps the server's status: the
// events in between are lost, and only a new Follow without after_sequence
// can carry on, from the current event.
//
// Follow gives up after the configured number of attempts in a row that
// deliver nothing (WithMaxAttempts), counted afresh after every stream that
// delivered events, with the backoff of unary retries between them;
// WithOnRetry sees each resume, with 1 plus the number of streams in a row
// that delivered nothing as its attempt. Opening a stream waits for a ready
// pod (WaitForReady), bounded by ctx.
func (c *Client) Follow(ctx context.Context, req *exampleservicev1.WatchRequest, f func(*exampleservicev1.WatchResponse) error) error {
	if req == nil {
		req = &exampleservicev1.WatchRequest{}
	} else {
		req = proto.Clone(req).(*exampleservicev1.WatchRequest)
	}
	backoff := backoffPolicy{base: c.opts.backoff, max: c.opts.maxBackoff}
	var failed uint // streams in a row that delivered nothing
	for {
		resumed := req.GetAfterSequence() > 0
		delivered, err := c.followOnce(ctx, req, f)
		switch {
		case err == nil || errors.Is(err, errStop):
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case !errors.As(err, new(*streamError)):
			return err // f's own error
		case resumed && !delivered && status.Code(err) == codes.OutOfRange:
			return fmt.Errorf("%w after event %d: %w", ErrGap, req.GetAfterSequence(), err)
		case status.Code(err) != codes.Unavailable:
			return err
		}
		if delivered {
			failed = 0
		} else {
			failed++
		}
		if failed >= c.opts.maxAttempts {
			return fmt.Errorf("watch: %d attempts in a row delivered nothing: %w", failed, err)
		}
		if err := sleep(ctx, backoff.wait(max(failed, 1)-1)); err != nil {
			return err
		}
		if c.opts.onRetry != nil {
			c.opts.onRetry(exampleservicev1.Greeter_Watch_FullMethodName, failed+1, err)
		}
	}
}

// ErrGap is what Follow's error matches when the server could no longer
// replay the events since the last one delivered: they are lost.
var ErrGap = errors.New("watch: events were lost, more than the server replays")

// errStop is how a stream that ended with OK reports itself to Follow.
var errStop = errors.New("the watch ended")

// streamError marks an error of the stream, as opposed to one of f.
type streamError struct{ err error }

func (e *streamError) Error() string { return e.err.Error() }
func (e *streamError) Unwrap() error { return e.err }

// GRPCStatus lets status.Code see through the wrapper.
func (e *streamError) GRPCStatus() *status.Status { return status.Convert(e.err) }

// followOnce runs one stream, advancing req.AfterSequence past every event
// delivered to f, and reports whether it delivered any.
func (c *Client) followOnce(ctx context.Context, req *exampleservicev1.WatchRequest, f func(*exampleservicev1.WatchResponse) error) (delivered bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.GreeterClient.Watch(ctx, req, grpc.WaitForReady(true))
	if err != nil {
		return false, &streamError{err}
	}
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return delivered, errStop
		}
		if err != nil {
			return delivered, &streamError{err}
		}
		if err := f(msg); err != nil {
			return delivered, err
		}
		delivered = true
		req.AfterSequence = msg.GetSequence()
	}
}

// Conn is the underlying connection, for other APIs on the same server.
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// Close closes the connections.
func (c *Client) Close() error {
	err := c.conn.Close()
	if c.fallback != nil {
		err = errors.Join(err, c.fallback.Close())
	}
	return err
}

// defaultDeadline gives every call a deadline, so that no call can hang.
func defaultDeadline(d time.Duration) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, d)
			defer cancel()
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

var idempotent sync.Map // full method name → bool

// Idempotent reports whether the method ("/package.Service/Method") is
// declared safe to call twice in its proto. Unknown methods are not.
func Idempotent(fullMethod string) bool {
	if v, ok := idempotent.Load(fullMethod); ok {
		return v.(bool)
	}
	name := protoreflect.FullName(strings.ReplaceAll(strings.TrimPrefix(fullMethod, "/"), "/", "."))
	ok := false
	if d, err := protoregistry.GlobalFiles.FindDescriptorByName(name); err == nil {
		if m, isMethod := d.(protoreflect.MethodDescriptor); isMethod {
			if mo, _ := m.Options().(*descriptorpb.MethodOptions); mo != nil {
				switch mo.GetIdempotencyLevel() {
				case descriptorpb.MethodOptions_NO_SIDE_EFFECTS, descriptorpb.MethodOptions_IDEMPOTENT:
					ok = true
				}
			}
		}
	}
	idempotent.Store(fullMethod, ok)
	return ok
}
