package client

import (
	"errors"
	"fmt"
	"math"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

type options struct {
	timeout           time.Duration
	maxAttempts       uint
	perAttemptTimeout time.Duration
	backoff           time.Duration
	maxBackoff        time.Duration
	maxBackoffSet     bool
	creds             credentials.TransportCredentials
	onRetry           func(method string, attempt uint, err error)
	onHedge           func(method string, attempt uint)
	hedgeDelay        time.Duration // 0 learns it
	hedgeDelaySet     bool
	noHedging         bool
	dialOptions       []grpc.DialOption
	maxTokens         float64
	tokenRatio        float64
	resolveEvery      time.Duration
	fallback          string
	tracerProvider    trace.TracerProvider // nil: the global one
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

// WithHedgeDelay hedges an idempotent call after d, instead of after the
// method's recent 99th percentile latency (at least MinHedgeDelay, at most
// half the per-attempt timeout), which the client learns by default. It
// must be positive: WithoutHedging turns hedging off.
func WithHedgeDelay(d time.Duration) Option {
	return func(o *options) { o.hedgeDelay, o.hedgeDelaySet = d, true }
}

// WithoutHedging turns hedging off: an idempotent call has one attempt at a
// time, and a pod that has gone silent holds each call sent there for its
// per-attempt timeout.
func WithoutHedging() Option { return func(o *options) { o.noHedging = true } }

// WithOnHedge calls f as each hedge starts, with the full name of the method
// and the attempt it is (2 for the first hedge of a call).
func WithOnHedge(f func(method string, attempt uint)) Option {
	return func(o *options) { o.onHedge = f }
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

// WithTracerProvider makes the attempts' spans with tp rather than the
// global provider (otel.GetTracerProvider), which a program that traces
// installs once and a library should not assume.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracerProvider = tp }
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
	case o.hedgeDelaySet && o.hedgeDelay <= 0:
		return fmt.Errorf("WithHedgeDelay(%v): the delay must be positive, e.g. 50ms; leave the option out to learn each method's, or use WithoutHedging", o.hedgeDelay)
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
