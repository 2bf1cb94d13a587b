package client

import (
	"context"
	"errors"
	"strconv"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Retry throttling, as gRFC A6's retryThrottling defines it: every failed
// attempt costs a token, every success earns back TokenRatio of one, and
// retries stop while the bucket is at or below half full. When most calls
// fail (every pod overloaded, a dependency down), retries would multiply the
// load by the number of attempts just when the servers can least take it;
// the budget caps them at about one retry per 1/TokenRatio successes.
//
// The bucket is larger than gRFC A6's example of 10 because one pod's loss
// fails every call in flight on it at once: a SIGKILLed pod of three, at
// 400 calls/s of 100 ms each, cuts about 40 calls, and each deserves its
// retry. Half of 100 tokens covers that burst; a lasting storm still gets
// only those 50 retries, then one per ten successes.
const (
	DefaultMaxTokens  = 100
	DefaultTokenRatio = 0.1
)

// pushbackKey is the trailer in which a server tells clients when to retry
// (gRFC A6): a number of milliseconds, or a negative one for "do not".
const pushbackKey = "grpc-retry-pushback-ms"

// budget is a token bucket shared by every call of a Client. A budget of
// no tokens is off: it always allows a retry.
type budget struct {
	mu         sync.Mutex
	tokens     float64
	max, ratio float64
}

func newBudget(maxTokens, ratio float64) *budget {
	return &budget{tokens: maxTokens, max: maxTokens, ratio: ratio}
}

func (b *budget) success() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tokens = min(b.max, b.tokens+b.ratio)
}

func (b *budget) failure() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tokens = max(0, b.tokens-1)
}

// allows reports whether a retry may be made now.
func (b *budget) allows() bool {
	if b.max <= 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tokens > b.max/2
}

// pushbackError is a failed attempt whose server asked for a retry.
type pushbackError struct{ err error }

func (e *pushbackError) Error() string { return e.err.Error() }
func (e *pushbackError) Unwrap() error { return e.err }

// GRPCStatus keeps status.Code and status.Convert working on the error.
func (e *pushbackError) GRPCStatus() *status.Status { return status.Convert(e.err) }

// countAttempts runs closest to the wire, once per attempt: it feeds the
// budget and marks the error of an attempt whose server asked for a retry.
func (b *budget) countAttempts() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		var trailer metadata.MD
		err := invoker(ctx, method, req, reply, cc, append(opts, grpc.Trailer(&trailer))...)
		if err == nil {
			b.success()
			return nil
		}
		switch status.Code(err) {
		case codes.Unavailable, codes.ResourceExhausted:
			b.failure()
		}
		if pushbackAllows(trailer) {
			return &pushbackError{err}
		}
		return err
	}
}

func pushbackAllows(md metadata.MD) bool {
	v := md.Get(pushbackKey)
	if len(v) == 0 {
		return false
	}
	ms, err := strconv.Atoi(v[0])
	return err == nil && ms >= 0
}

// retriable decides, for the retry interceptor, whether a failed attempt is
// tried again: UNAVAILABLE (the call did not run: no pod, or a broken
// connection), RESOURCE_EXHAUSTED only when the server asked for a retry
// (pushback; otherwise the overload is the client's to respect), and either
// only while the budget allows.
func (b *budget) retriable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable:
	case codes.ResourceExhausted:
		if !errors.As(err, new(*pushbackError)) {
			return false
		}
	default:
		return false
	}
	return b.allows()
}
