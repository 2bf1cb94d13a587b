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
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
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
	hedges            *hedger // nil: no hedging
	onRetry           func(method string, attempt uint, err error)
	onHedge           func(method string, attempt uint)
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
	// The balancer sees, through the context, which pods the call's
	// attempts went to, and how long an attempt's wait means silence.
	ctx = context.WithValue(ctx, callKey{}, &callState{silentAfter: r.perAttemptTimeout / 2})
	if !Idempotent(method) {
		_, err := r.attempt(ctx, 0, method, req, reply, cc, invoker, opts)
		return err
	}
	// An idempotent call outlasts a moment with no ready pod.
	opts = append(slices.Clip(opts), grpc.WaitForReady(true))
	c := &call{r: r, method: method, req: req, cc: cc, invoker: invoker, opts: opts}
	c.msg, _ = reply.(proto.Message)
	if c.msg == nil {
		c.reply = reply // attempts write into it, so never two at once
	}
	hedge := r.hedges != nil && c.msg != nil && r.maxAttempts > 1 && !writesBack(opts)
	c.results = make(chan result, r.maxAttempts)
	c.ctx, c.cancel = detach(ctx)
	c.live.Store(1)
	defer c.release()

	var (
		lastErr       error
		sincePushback uint // retries since the last pushback: the backoff's exponent
		timer         = time.NewTimer(time.Hour)
		hedgeNext     bool // the timer starts a hedge, not a retry
	)
	defer timer.Stop()
	timer.Stop()
	armHedge := func() {
		if hedge && c.pending == 1 && c.started < r.maxAttempts {
			timer.Reset(r.hedges.delay(method))
			hedgeNext = true
		}
	}
	c.launch()
	armHedge()
	for {
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.Canceled) {
				c.cancel() // the caller left: so do the attempts
			}
			return c.ended(ctx, nil, lastErr)
		case <-timer.C:
			if c.started >= r.maxAttempts || !r.budget.allows() || over(ctx) {
				if c.pending == 0 {
					return lastErr
				}
				continue
			}
			if hedgeNext {
				if r.onHedge != nil {
					r.onHedge(method, c.started+1)
				}
			} else if r.onRetry != nil {
				r.onRetry(method, c.started+1, lastErr)
			}
			c.launch()
			armHedge()
		case res := <-c.results:
			c.pending--
			if res.err == nil {
				c.adopt(res)
				return nil
			}
			if over(ctx) {
				// The caller's deadline passed as this attempt ran, or
				// before it began (a retry launched at that moment, whose
				// error says no more than the deadline does).
				return c.ended(ctx, &res, lastErr)
			}
			lastErr = res.err
			if !res.out.retriable || c.started >= r.maxAttempts || !r.budget.allows() {
				if !res.out.retriable || c.pending == 0 {
					c.drain()
					return res.err
				}
				continue // the other attempt may still answer
			}
			wait := res.out.pushback
			if res.out.hasPushback {
				sincePushback = 0 // as in gRFC A6: the backoff starts again
			} else {
				wait = r.backoff.wait(sincePushback)
				sincePushback++
			}
			// A retry that could not start before the deadline would only
			// turn the server's answer into DEADLINE_EXCEEDED.
			if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= wait {
				if c.pending == 0 {
					return res.err
				}
				continue
			}
			timer.Reset(wait)
			hedgeNext = false
		}
	}
}

// ended is the call's result once the caller's context is done: the
// attempts end with its deadline or cancellation too. The one that began
// first, and so waited longest, says best why no pod answered (the last
// connection error, say), unless it says no more than the caller's
// context: one that began as the deadline passed. Else an earlier
// attempt's failure, lastErr, says why. res is an attempt's result already
// received, if any.
func (c *call) ended(ctx context.Context, res *result, lastErr error) error {
	cause := ctx.Err()
	if cause == nil {
		cause = context.DeadlineExceeded // over, before ctx's own timer fired
	}
	err := status.FromContextError(cause).Err()
	var first *result
	consider := func(r result) {
		if status.Code(r.err) == status.Code(err) && status.Convert(r.err).Message() != status.Convert(err).Message() &&
			(first == nil || r.n < first.n) {
			first = &r
		}
	}
	if res != nil {
		consider(*res)
	}
	for ; c.pending > 0; c.pending-- {
		r := <-c.results
		if r.err == nil {
			c.adopt(r)
			return nil
		}
		consider(r)
	}
	switch {
	case first != nil:
		return first.err
	case lastErr != nil:
		return status.Errorf(status.Code(err), "%s; the last attempt that failed: %s", status.Convert(err).Message(), status.Convert(lastErr).Message())
	}
	return err
}

// over reports whether the caller's context is done or its deadline has
// passed. The attempts' context has the same deadline on a timer of its
// own, which may fire first: an attempt can fail with it while ctx.Err() is
// still nil.
func over(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ctx.Err() != nil || ok && !time.Now().Before(d)
}

// call is one idempotent call's attempts: each runs in its own goroutine
// and answers on results, into a reply of its own when the reply is a
// proto message, so that the one that answers first wins while another may
// still be running.
type call struct {
	r       *retrier
	method  string
	req     any
	cc      *grpc.ClientConn
	invoker grpc.UnaryInvoker
	opts    []grpc.CallOption
	msg     proto.Message // the caller's reply, if it is one
	reply   any           // otherwise: the caller's reply, shared by the attempts

	// ctx is the attempts' context: the caller's values and deadline, but
	// not its cancellation, for an attempt that lost goes on to its end.
	ctx     context.Context
	cancel  context.CancelFunc
	live    atomic.Int32 // attempts running, plus one while the call waits
	results chan result
	started uint
	pending int // attempts that have not answered on results yet
}

type result struct {
	n     uint // the attempt's number, from 1
	out   outcome
	err   error
	reply any
}

// detach returns a context with ctx's values and deadline, that ctx's
// cancellation does not end.
func detach(ctx context.Context) (context.Context, context.CancelFunc) {
	d := context.WithoutCancel(ctx)
	if deadline, ok := ctx.Deadline(); ok {
		return context.WithDeadline(d, deadline)
	}
	return context.WithCancel(d)
}

func (c *call) launch() {
	c.started++
	c.pending++
	c.live.Add(1)
	reply := c.reply
	if c.msg != nil {
		reply = c.msg.ProtoReflect().New().Interface()
	}
	n := c.started
	go func() {
		defer c.release()
		start := time.Now()
		out, err := c.r.attempt(c.ctx, c.r.perAttemptTimeout, c.method, c.req, reply, c.cc, c.invoker, c.opts)
		if err == nil && c.r.hedges != nil {
			c.r.hedges.observe(c.method, time.Since(start))
		}
		c.results <- result{n: n, out: out, err: err, reply: reply}
	}()
}

// release ends the attempts' context once the call and every attempt are
// done with it.
func (c *call) release() {
	if c.live.Add(-1) == 0 {
		c.cancel()
	}
}

// adopt gives the caller the winning attempt's reply.
func (c *call) adopt(res result) {
	if c.msg != nil {
		proto.Reset(c.msg)
		proto.Merge(c.msg, res.reply.(proto.Message))
	}
}

// drain waits for the attempts still running when they share the caller's
// reply, which the caller may read once the call returns.
func (c *call) drain() {
	if c.msg != nil {
		return
	}
	for ; c.pending > 0; c.pending-- {
		<-c.results
	}
}

// writesBack reports whether the caller asked for an attempt's headers,
// trailer or peer: two attempts at once would both write them, so such a
// call is not hedged.
func writesBack(opts []grpc.CallOption) bool {
	for _, o := range opts {
		switch o.(type) {
		case grpc.HeaderCallOption, grpc.TrailerCallOption, grpc.PeerCallOption:
			return true
		}
	}
	return false
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
	timedOut := code == codes.DeadlineExceeded && attemptTimedOut(ctx, actx, time.Now())
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

// attemptTimedOut reports whether the per-attempt timeout, not the caller,
// ended an attempt that failed with DEADLINE_EXCEEDED. The server counts
// down the same deadline, sent as grpc-timeout, and its answer can arrive
// before the attempt's own timer has fired: the deadline has passed all the
// same, and the attempt costs its token like any other that timed out.
// Otherwise a loaded client would retry silent pods past its budget.
func attemptTimedOut(ctx, actx context.Context, now time.Time) bool {
	if ctx.Err() != nil {
		return false
	}
	if errors.Is(context.Cause(actx), errAttemptTimeout) {
		return true
	}
	attemptEnd, bounded := actx.Deadline()
	callEnd, callBounded := ctx.Deadline()
	return bounded && (!callBounded || attemptEnd.Before(callEnd)) && !now.Before(attemptEnd)
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
