package client

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// fallbacks are the connections through the ClusterIP Service, several of
// them, because kube-proxy sends each to one pod, chosen when it connects:
// with one, a pod gone silent would hold every call that fell back to it,
// its hedges and retries included. An attempt takes, of the connections its
// call has not tried, the least loaded (the next in turn, of equals), so
// that a hedge or a retry reaches, most likely, another pod, and not the
// one whose connection holds calls that never end. A connection's load is
// its attempts still waiting; silentWeight more while they wait and none
// has been answered for stallAfter; and silentWeight for each attempt that
// ended silent since its last answer (for ejectFor after the last). So a
// silent pod's connection is the last choice within stallAfter of the cut,
// however busy the others are, and stays so once its calls time out.
//
// A connection on which attempts go silent is passed over as a pod is on
// the headless connection (balancer.go): kube-proxy keeps it on its pod for
// as long as it lives.
type fallbacks struct {
	conns []*grpc.ClientConn
	load  [fallbackConns]connLoad
	next  atomic.Uint32
	ej    *ejector
}

// connLoad is one fallback connection's unary attempts, waiting and ended
// silent. Streams are left out: a long stream is not a call held up.
type connLoad struct {
	waiting  atomic.Int32
	moved    atomic.Int64 // unix nanoseconds of the last answer (an error too), or of a first attempt waiting
	silent   atomic.Int32 // attempts ended silent since the last answer
	silentAt atomic.Int64 // unix nanoseconds of the last of them
}

const (
	// silentWeight is how many waiting calls a stalled connection, and an
	// attempt that ended silent, count as: more than a healthy connection
	// has waiting at once in a service's ordinary traffic, so that the
	// connection is tried again only when the others are as loaded, and
	// an answer there clears its record.
	silentWeight = 16
	// stallAfter is how long calls may wait on a connection with no answer
	// before it counts as stalled: many times a healthy call's latency on
	// the cluster network, and well within a hedge's delay ceiling.
	stallAfter = 200 * time.Millisecond
)

func (l *connLoad) began(now time.Time) {
	if l.waiting.Add(1) == 1 {
		l.moved.Store(now.UnixNano())
	}
}

func (l *connLoad) weight(now time.Time) int32 {
	w := l.waiting.Load()
	if w > 0 && now.UnixNano()-l.moved.Load() > int64(stallAfter) {
		w += silentWeight
	}
	if at := l.silentAt.Load(); at != 0 && now.UnixNano()-at < int64(ejectFor) {
		w += silentWeight * l.silent.Load()
	}
	return w
}

func (l *connLoad) ended(silent bool, err error) {
	l.waiting.Add(-1)
	if answered(err) {
		l.moved.Store(time.Now().UnixNano())
	}
	switch {
	case err == nil:
		l.silent.Store(0)
		l.silentAt.Store(0)
	case silent:
		l.silent.Add(1)
		l.silentAt.Store(time.Now().UnixNano())
	}
}

// answered says whether an attempt that ended with err had its server's
// answer, an error included (NOT_FOUND, say): the connection moves. The
// client's own deadline and cancellation and a broken connection do not.
func answered(err error) bool {
	switch status.Code(err) {
	case codes.DeadlineExceeded, codes.Canceled, codes.Unavailable:
		return false
	}
	return true
}

func newFallbacks() *fallbacks { return &fallbacks{ej: newEjector()} }

// close closes the connections; a nil f has none.
func (f *fallbacks) close() error {
	if f == nil {
		return nil
	}
	var errs []error
	for _, c := range f.conns {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// pick returns the index of the connection for an attempt of the call in
// ctx: of those neither passed over nor tried by the call, the least
// loaded; failing that, the best of the rest.
func (f *fallbacks) pick(ctx context.Context) int {
	call, _ := ctx.Value(callKey{}).(*callState)
	now := time.Now()
	load := func(i int) int32 { return f.load[i].weight(now) }
	best := choose(len(f.conns), int(f.next.Add(1)), fallbackKey, f.ej.passedOver(now), call, load)
	call.try(fallbackKey(best))
	return best
}

// fallbackKey names a fallback connection among the pods a call tried.
func fallbackKey(i int) string { return "fallback " + strconv.Itoa(i) }

// Invoke makes an attempt on a fallback connection, and records whether it
// found the connection's pod silent.
func (f *fallbacks) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	i, start := f.pick(ctx), time.Now()
	f.load[i].began(start)
	err := f.conns[i].Invoke(ctx, method, args, reply, opts...)
	call, _ := ctx.Value(callKey{}).(*callState)
	silent := call.silent(ctx, err, time.Since(start))
	f.load[i].ended(silent, err)
	// Several connections may reach the silent pod: all but one may be
	// passed over, since one passed over is still used when nothing better
	// is left.
	f.ej.done(fallbackKey(i), silent, err, len(f.conns)-1)
	return err
}

func (f *fallbacks) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return f.conns[f.pick(ctx)].NewStream(ctx, desc, method, opts...)
}

// useFallback says whether an attempt should go to the fallback: the main
// connection has no ready pod. An idle one is woken for the attempts after.
func useFallback(cc *grpc.ClientConn, fallback *fallbacks) bool {
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
// attempt to the fallback while the main connection has no ready pod, or
// when its picker hands the attempt back: every ready pod is passed over or
// already tried by the call (balancer.go).
//
// The main connection's state can change between that check and the pick:
// its last ready pod turns NOT_SERVING. So, when there is a fallback, the
// attempt on the main connection does not wait for a ready pod, even for an
// idempotent call: it fails in the client with UNAVAILABLE without ever
// being sent. Such an attempt goes to the fallback, with the caller's
// options (waiting there if the call waits), whatever the method's side
// effects, since no server has seen it; an attempt that was sent (headers
// handed to the transport, as sentTracker hears) is never sent again here.
func routeUnary(fallback *fallbacks) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if useFallback(cc, fallback) {
			return fallback.Invoke(ctx, method, req, reply, opts...)
		}
		if fallback == nil {
			return invoker(ctx, method, req, reply, cc, opts...)
		}
		a := &mainAttempt{fallback: fallback}
		mainOpts := append(slices.Clip(opts), grpc.WaitForReady(false))
		err := invoker(context.WithValue(ctx, attemptKey{}, a), method, req, reply, cc, mainOpts...)
		if status.Code(err) == codes.Unavailable && !a.sent.Load() && ctx.Err() == nil {
			return fallback.Invoke(ctx, method, req, reply, opts...)
		}
		return err
	}
}

// mainAttempt is what routeUnary and routeStream tell the main connection
// of an attempt they send there: sentTracker sets sent once the attempt's
// headers went to the transport, and the picker may hand the attempt back
// for fallback.
type mainAttempt struct {
	sent     atomic.Bool
	fallback *fallbacks
}

type attemptKey struct{}

// routed is the attempt's mainAttempt, nil for one that routeUnary or
// routeStream did not send (no fallback).
func routed(ctx context.Context) *mainAttempt {
	a, _ := ctx.Value(attemptKey{}).(*mainAttempt)
	return a
}

// fallbackReady says whether the attempt has a fallback with a connection
// ready to take it, so that handing it back cannot leave it waiting.
func (a *mainAttempt) fallbackReady() bool {
	if a == nil {
		return false
	}
	for _, c := range a.fallback.conns {
		if c.GetState() == connectivity.Ready {
			return true
		}
	}
	return false
}

// sentTracker is the main connection's stats handler that records, in the
// attempt's mainAttempt, that its headers went to the transport: from then
// on a server may have run it.
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
	if a := routed(ctx); a != nil {
		a.sent.Store(true)
	}
}

// routeStream does the same for streams, when each one opens: a stream that
// waits for a ready pod would otherwise wait on the main connection for as
// long as its context allows.
func routeStream(fallback *fallbacks) grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		if useFallback(cc, fallback) {
			return fallback.NewStream(ctx, desc, method, opts...)
		}
		if fallback == nil {
			return streamer(ctx, desc, cc, method, opts...)
		}
		a := &mainAttempt{fallback: fallback}
		mainOpts := append(slices.Clip(opts), grpc.WaitForReady(false))
		stream, err := streamer(context.WithValue(ctx, attemptKey{}, a), desc, cc, method, mainOpts...)
		if status.Code(err) == codes.Unavailable && !a.sent.Load() && ctx.Err() == nil {
			return fallback.NewStream(ctx, desc, method, opts...)
		}
		return stream, err
	}
}
