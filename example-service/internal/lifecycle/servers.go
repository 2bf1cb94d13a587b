package lifecycle

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
)

// HTTP adapts an http.Server serving on ln. It wraps srv.Handler to count
// the requests in flight. http.Server.Close closes every connection,
// silent and half-read ones included, and returns at once; handlers that
// ignore their context run on until their context ends (phase 5) or the
// process exits.
func HTTP(name string, srv *http.Server, ln net.Listener) Server {
	var active Active
	srv.Handler = active.Handler(srv.Handler)
	return Server{
		Name: name,
		Serve: func() error {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
		Shutdown: srv.Shutdown,
		Close:    srv.Close,
		InFlight: active.Count,
	}
}

// GRPC adapts a grpc.Server serving on ln. active must count srv's calls
// (its interceptors installed on srv), and handshake must be srv's
// grpc.ConnectionTimeout.
//
// GracefulStop has no deadline of its own, so Shutdown runs it in the
// background and gives up when ctx ends. Both GracefulStop and Stop first
// wait for every connection still in its HTTP/2 handshake, up to the
// handshake timeout: a port scanner, a load balancer's TCP check, or a
// client that vanished mid-connect would hold them. Close therefore closes
// the connections accepted within the last handshake timeout, which ends
// any handshake at once, before it calls Stop.
func GRPC(name string, srv *grpc.Server, ln net.Listener, active *Active, handshake time.Duration) Server {
	recent := &recentConns{Listener: ln, keep: handshake}
	var inFlight func() int64 // nil counts as one: a cut is never missed
	if active != nil {
		inFlight = active.Count
	}
	return Server{
		Name: name,
		Serve: func() error {
			if err := srv.Serve(recent); !errors.Is(err, grpc.ErrServerStopped) {
				return err
			}
			return nil
		},
		Shutdown: func(ctx context.Context) error {
			done := make(chan struct{})
			go func() {
				srv.GracefulStop()
				close(done)
			}()
			select {
			case <-done:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
		Close: func() error {
			recent.closeAll()
			// Stop returns once the handshakes above have failed; it does
			// not wait for handlers. It runs apart all the same, so that
			// nothing here can block: Run waits for Serve within F.
			go srv.Stop()
			return nil
		},
		InFlight: inFlight,
	}
}

// Active counts the requests and streams a server is serving.
type Active struct{ n atomic.Int64 }

// Count is the number in flight now.
func (a *Active) Count() int64 { return a.n.Load() }

// Handler counts h's requests; a nil h is http.DefaultServeMux, as in
// http.Server.
func (a *Active) Handler(h http.Handler) http.Handler {
	if h == nil {
		h = http.DefaultServeMux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.n.Add(1)
		defer a.n.Add(-1)
		h.ServeHTTP(w, r)
	})
}

// UnaryServerInterceptor counts unary calls; install it first, so that it
// sees the whole of each call.
func (a *Active) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		a.n.Add(1)
		defer a.n.Add(-1)
		return handler(ctx, req)
	}
}

// StreamServerInterceptor counts streams, unknown services' included.
func (a *Active) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		a.n.Add(1)
		defer a.n.Add(-1)
		return handler(srv, ss)
	}
}

// recentConns is a listener that remembers the connections it accepted
// within the last keep, the only ones that can still be in their
// handshake, so that closeAll can end those handshakes. It hands out the
// kernel's own *net.TCPConn, unwrapped, because grpc-go sets options such as
// TCP_USER_TIMEOUT only on that type; the memory it holds is bounded by the
// accept rate times keep.
type recentConns struct {
	net.Listener
	keep time.Duration

	mu     sync.Mutex
	conns  []accepted // oldest first
	closed bool
}

type accepted struct {
	conn net.Conn
	at   time.Time
}

func (l *recentConns) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		// Accepted as the hard stop began: it may not start a handshake.
		_ = c.Close()
		return c, nil
	}
	old := 0
	for old < len(l.conns) && now.Sub(l.conns[old].at) > l.keep {
		old++
	}
	l.conns = append(l.conns[old:], accepted{conn: c, at: now})
	return c, nil
}

// closeAll closes the connections accepted within keep and any accepted
// from now on. Closing one that is already closed does nothing.
func (l *recentConns) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	for _, a := range l.conns {
		_ = a.conn.Close()
	}
	l.conns = nil
}
