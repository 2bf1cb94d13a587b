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
// its hedges and retries included. An attempt takes the next connection in
// turn that its call has not tried, so that a hedge or a retry reaches, most
// likely, another pod.
//
// A connection on which attempts go silent is passed over as a pod is on
// the headless connection (balancer.go): kube-proxy keeps it on its pod for
// as long as it lives.
type fallbacks struct {
	conns []*grpc.ClientConn
	next  atomic.Uint32
	ej    *ejector
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
// ctx: the next in turn that is neither passed over nor tried by the call;
// failing that, the best of the rest.
func (f *fallbacks) pick(ctx context.Context) int {
	call, _ := ctx.Value(callKey{}).(*callState)
	best := choose(len(f.conns), int(f.next.Add(1)), fallbackKey, f.ej.passedOver(time.Now()), call)
	call.try(fallbackKey(best))
	return best
}

// fallbackKey names a fallback connection among the pods a call tried.
func fallbackKey(i int) string { return "fallback " + strconv.Itoa(i) }

// Invoke makes an attempt on a fallback connection, and records whether it
// found the connection's pod silent.
func (f *fallbacks) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	i, start := f.pick(ctx), time.Now()
	err := f.conns[i].Invoke(ctx, method, args, reply, opts...)
	call, _ := ctx.Value(callKey{}).(*callState)
	// Several connections may reach the silent pod: all but one may be
	// passed over, since one passed over is still used when nothing better
	// is left.
	f.ej.done(fallbackKey(i), call.silent(ctx, err, time.Since(start)), err, len(f.conns)-1)
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
func routeUnary(fallback *fallbacks) grpc.UnaryClientInterceptor {
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
func routeStream(fallback *fallbacks) grpc.StreamClientInterceptor {
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
