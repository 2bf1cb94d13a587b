// Package client is the Go client for example-service, for other services to import.
// It is one connection for every API the service serves: pass Conn to the
// API's generated NewXClient (greeter.go does that for the example).
// Every call through it loses nothing across rolling updates and pod loss:
//
//   - It resolves the headless Service through DNS and balances every call
//     across the ready pods (round_robin), instead of pinning one pod per
//     connection as a ClusterIP Service would.
//   - It watches each pod's grpc.health.v1 status, so a pod that starts
//     draining stops receiving calls at once, before DNS or kube-proxy catch up.
//   - It retries only methods whose proto declares them free of side
//     effects (idempotency_level), read from the descriptors that the
//     API's generated code registers; other calls are never retried, because a
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
//   - Follow keeps a resumable server stream going across pods: a pod that
//     drains ends its streams with UNAVAILABLE, and Follow resumes on another
//     pod from the last message it delivered, so the caller sees every
//     message once, in order, unless it was away for longer than the server
//     replays (ErrGap).
//   - An idempotent attempt that has not answered within about the
//     method's recent 99th percentile latency is hedged: a second attempt
//     goes to another pod, and the first answer wins (hedge.go). So a pod
//     that goes silent (its network cut: no FIN, no RST) costs its calls
//     that delay, not their per-attempt timeout. It is passed over after
//     three attempts in a row waited out a deadline, and every retry or
//     hedge goes to a pod the call has not tried (balancer.go): the client
//     stops using it about one per-attempt timeout after it went silent,
//     long before keepalive or the readiness probe notice.
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
// to the fallback (and waits there, if the call waits). It goes there too
// when every ready pod is passed over or already tried by its call: a stale
// answer may name only the pod that went silent, and the ClusterIP reaches
// the others. The fallback is
// four connections, since kube-proxy sends each to one pod: an attempt takes
// the least loaded one its call has not tried, so that calls leave a
// connection whose pod went silent as soon as they pile up there, and one
// on which attempts time out is passed over, as on the headless connection. NewInCluster sets up both.
package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/health" // registers client-side health checking
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/stats"
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

// fallbackConns is how many connections go through the ClusterIP fallback.
// kube-proxy sends each to a pod chosen at random when it connects; with
// four, the chance that all of them reach one pod of three, which a hedge
// or a retry could then not leave, is 1 in 27.
const fallbackConns = 4

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
  "loadBalancingConfig": [{"` + balancerName + `": {}}],
  "healthCheckConfig": {"serviceName": ""}
}`

// Client is a connection to example-service, for any of its APIs.
type Client struct {
	conn     *grpc.ClientConn
	fallback *fallbacks // nil without WithFallback
	opts     options
}

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
		onHedge:           o.onHedge,
	}
	if !o.noHedging {
		retrier.hedges = &hedger{fixed: o.hedgeDelay, ceiling: o.perAttemptTimeout / 2}
	}
	otelOptions := []otelgrpc.Option{otelgrpc.WithFilter(traced)}
	if o.tracerProvider != nil {
		otelOptions = append(otelOptions, otelgrpc.WithTracerProvider(o.tracerProvider))
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
		// A span for every attempt, hedges and retries included, in the
		// caller's trace, with the pod it reached (network.peer.address,
		// the conventions' name for it: otelgrpc's server.address is
		// meant for the target's name); and W3C trace context to the
		// server. The OpenTelemetry API is a no-op until the program
		// installs a tracer provider.
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelOptions...)),
		grpc.WithStatsHandler(peerOnSpan{}),
	}
	var fallback *fallbacks
	if o.fallback != "" {
		// pick_first, the default: each is one connection through the
		// ClusterIP, to the pod kube-proxy chose. They have no interceptors
		// of their own but the caller's: the main connection's chain runs
		// around every attempt, wherever it goes.
		fallback = newFallbacks()
		for range fallbackConns {
			fc, err := grpc.NewClient(o.fallback, append(slices.Clone(common), o.dialOptions...)...)
			if err != nil {
				fallback.close()
				return nil, fmt.Errorf("client fallback %s: %w", o.fallback, err)
			}
			fc.Connect()
			fallback.conns = append(fallback.conns, fc)
		}
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
		fallback.close()
		return nil, fmt.Errorf("client for %s: %w", target, err)
	}
	conn.Connect()
	return &Client{conn: conn, fallback: fallback, opts: o}, nil
}

// Conn is the connection that every call goes through, balanced, retried
// and with its fallback: give it to an API's generated NewXClient.
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// Close closes the connections.
func (c *Client) Close() error {
	return errors.Join(c.conn.Close(), c.fallback.close())
}

// traced leaves the client-side health checks out of the traces: each
// connection watches its pod's health for as long as it lives.
func traced(info *stats.RPCTagInfo) bool {
	return !strings.HasPrefix(info.FullMethodName, "/grpc.health.v1.Health/")
}

// peerOnSpan puts on each traced attempt's span the address the attempt
// went to, once it has a connection: through a DNS name or a ClusterIP,
// only that says which pod a retried or hedged attempt reached.
type peerOnSpan struct{}

type tracedKey struct{}

func (peerOnSpan) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	if !traced(info) {
		return ctx // no span of its own: the caller's is not this attempt's
	}
	return context.WithValue(ctx, tracedKey{}, true)
}

func (peerOnSpan) HandleRPC(ctx context.Context, s stats.RPCStats) {
	h, ok := s.(*stats.OutHeader)
	if !ok || !h.Client || h.RemoteAddr == nil || ctx.Value(tracedKey{}) == nil {
		return
	}
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	host, port, err := net.SplitHostPort(h.RemoteAddr.String())
	if err != nil {
		span.SetAttributes(attribute.String("network.peer.address", h.RemoteAddr.String()))
		return
	}
	attrs := []attribute.KeyValue{attribute.String("network.peer.address", host)}
	if n, err := strconv.Atoi(port); err == nil {
		attrs = append(attrs, attribute.Int("network.peer.port", n))
	}
	span.SetAttributes(attrs...)
}

func (peerOnSpan) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }

func (peerOnSpan) HandleConn(context.Context, stats.ConnStats) {}

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
