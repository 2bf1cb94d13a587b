package client

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// pushbackKey is the trailer in which a server tells clients when to retry
// (gRFC A6): a number of milliseconds, or a negative one for "do not".
const pushbackKey = "grpc-retry-pushback-ms"

// backoffPolicy is the wait before a retry that the server gave no pushback
// for: base, doubled for each retry since the last pushback (or since the
// call began), at most max, with ±backoffJitter of it at random so that
// clients that failed together do not retry together.
type backoffPolicy struct{ base, max time.Duration }

func (p backoffPolicy) wait(retry uint) time.Duration {
	d := p.base
	for i := uint(0); i < retry && d < p.max; i++ {
		d *= 2
	}
	d = min(d, p.max)
	return time.Duration(float64(d) * (1 + backoffJitter*(2*rand.Float64()-1)))
}

// retrier runs the attempts of a unary call. A method with side effects gets
// one attempt, since a retried call may run twice. An idempotent one gets up
// to maxAttempts, each bounded by perAttemptTimeout and waiting for a ready
// pod, while its failures say that it did not run (or that it may run again
// harmlessly) and the budget allows.
type retrier struct {
	maxAttempts       uint
	perAttemptTimeout time.Duration
	backoff           backoffPolicy
	budget            *budget
	onRetry           func(method string, attempt uint, err error)
}

// errAttemptTimeout is the cause of an attempt's context when the
// per-attempt timeout, not the caller, ended it.
var errAttemptTimeout = errors.New("the per-attempt timeout passed")

// outcome is what one failed attempt says about a retry.
type outcome struct {
	retriable   bool
	pushback    time.Duration
	hasPushback bool
}

// unary is the client's retrying interceptor. It runs outside routeUnary,
// so that each attempt is routed afresh, and sees every attempt's error and
// trailer itself: whether the caller or the per-attempt timeout ended it,
// and what the server's pushback asked.
func (r *retrier) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if !Idempotent(method) {
		_, err := r.attempt(ctx, 0, method, req, reply, cc, invoker, opts)
		return err
	}
	// An idempotent call outlasts a moment with no ready pod.
	opts = append(slices.Clip(opts), grpc.WaitForReady(true))
	// Each retry goes to a pod the call has not tried, when the balancer
	// has one (balancer.go).
	tried := &triedPods{}
	ctx = context.WithValue(ctx, triedKey{}, tried)
	var sincePushback uint // retries since the last pushback: the backoff's exponent
	for attempt := uint(1); ; attempt++ {
		var pod peer.Peer
		out, err := r.attempt(ctx, r.perAttemptTimeout, method, req, reply, cc, invoker, append(opts, grpc.Peer(&pod)))
		if err == nil || !out.retriable || attempt >= r.maxAttempts || !r.budget.allows() {
			return err
		}
		if pod.Addr != nil {
			tried.addrs = append(tried.addrs, pod.Addr.String())
		}
		wait := out.pushback
		if out.hasPushback {
			sincePushback = 0 // as in gRFC A6: the backoff starts again
		} else {
			wait = r.backoff.wait(sincePushback)
			sincePushback++
		}
		// A retry that could not start before the deadline would only turn
		// the server's answer into DEADLINE_EXCEEDED.
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= wait {
			return err
		}
		if err := sleep(ctx, wait); err != nil {
			return status.FromContextError(err).Err()
		}
		if r.onRetry != nil {
			r.onRetry(method, attempt+1, err)
		}
	}
}

// attempt makes one attempt, bounded by timeout unless it is 0, feeds the
// budget with its result, and says whether, and after what wait, it may be
// retried. The attempts that cost a token are those gRFC A6 counts as
// failed: the call did not run (UNAVAILABLE), the server is overloaded
// (RESOURCE_EXHAUSTED), it did not answer within the per-attempt timeout,
// or it said not to retry (a negative or malformed pushback).
func (r *retrier) attempt(ctx context.Context, timeout time.Duration, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts []grpc.CallOption) (outcome, error) {
	actx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeoutCause(ctx, timeout, errAttemptTimeout)
		defer cancel()
	}
	var trailer metadata.MD
	err := invoker(actx, method, req, reply, cc, append(slices.Clip(opts), grpc.Trailer(&trailer))...)
	if err == nil {
		r.budget.success()
		return outcome{}, nil
	}
	code := status.Code(err)
	timedOut := code == codes.DeadlineExceeded && ctx.Err() == nil && errors.Is(context.Cause(actx), errAttemptTimeout)
	pushback, hasPushback, refused := parsePushback(trailer)
	var out outcome
	switch {
	case refused:
	case timedOut, code == codes.Unavailable:
		out.retriable = true
	case code == codes.ResourceExhausted:
		// An overload is the client's to respect, unless the server asks
		// for the retry.
		out.retriable = hasPushback
	}
	if refused || timedOut || code == codes.Unavailable || code == codes.ResourceExhausted {
		r.budget.failure()
	}
	out.pushback, out.hasPushback = pushback, hasPushback
	return out, err
}

// parsePushback reads a server's pushback: a wait of d when it allows a
// retry, refused when it forbids one (a negative or malformed value, or more
// than one), neither when it gave none.
func parsePushback(md metadata.MD) (d time.Duration, ok, refused bool) {
	v := md.Get(pushbackKey)
	switch len(v) {
	case 0:
		return 0, false, false
	case 1:
		ms, err := strconv.Atoi(v[0])
		if err != nil || ms < 0 {
			return 0, false, true
		}
		return time.Duration(min(ms, math.MaxInt64/int(time.Millisecond))) * time.Millisecond, true, false
	default:
		return 0, false, true
	}
}

// sleep waits d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
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
