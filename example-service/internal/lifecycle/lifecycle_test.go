package lifecycle

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func TestMain(m *testing.M) {
	// glog flushes its buffers from a goroutine that lives as long as the process.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/golang/glog.(*fileSink).flushDaemon"))
}

// recorder notes the order of lifecycle events.
type recorder struct {
	mu     sync.Mutex
	events []string
	start  time.Time
	at     map[string]time.Duration
}

func (r *recorder) note(e string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	r.at[e] = time.Since(r.start)
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// TestSequence runs a real HTTP and a real gRPC server through the whole
// contract and checks the order of the phases, that listeners keep serving
// through the drain delay, and the timing.
func TestSequence(t *testing.T) {
	// D is long enough for two loopback requests on a busy machine; the test
	// checks that they are answered after readiness failed and before the
	// servers began to stop, not that they took any particular time.
	const delay, timeout = time.Second, time.Second
	rec := &recorder{start: time.Now(), at: map[string]time.Duration{}}
	httpLn, grpcLn := listen(t), listen(t)
	httpSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})}
	grpcSrv := grpc.NewServer()
	healthpb.RegisterHealthServer(grpcSrv, health.NewServer())

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	drained := make(chan struct{})
	go func() {
		done <- Run(ctx, Plan{
			Delay: delay, Timeout: timeout, CleanupTimeout: time.Second,
			Servers:  []Server{HTTP("http", httpSrv, httpLn), GRPC("grpc", grpcSrv, grpcLn, nil, time.Second)},
			Ready:    func() { rec.note("ready") },
			Drain:    func() { rec.note("drain"); close(drained) },
			Stopping: func() { rec.note("stopping") },
			Cleanup: []Cleanup{
				{Name: "first", Run: func(context.Context) error { rec.note("cleanup 1"); return nil }},
				{Name: "second", Run: func(context.Context) error { rec.note("cleanup 2"); return errors.New("pool stuck") }},
			},
		})
	}()
	waitFor(t, func() bool { return get(httpLn.Addr().String()) == nil })
	cancelAt := time.Now()
	cancel()

	// Still serving, on both ports, once readiness has failed.
	<-drained
	if err := get(httpLn.Addr().String()); err != nil {
		t.Errorf("HTTP stopped serving during the drain delay: %v", err)
	}
	if err := grpcCheck(grpcLn.Addr().String()); err != nil {
		t.Errorf("gRPC stopped serving during the drain delay: %v", err)
	}
	rec.note("served while draining")

	err := <-done
	took := time.Since(cancelAt)
	if err == nil || !strings.Contains(err.Error(), "cleanup second: pool stuck") {
		t.Errorf("Run = %v, want the cleanup error", err)
	}
	want := []string{"ready", "drain", "served while draining", "stopping", "cleanup 1", "cleanup 2"}
	if !slices.Equal(rec.events, want) {
		t.Errorf("events = %v, want %v", rec.events, want)
	}
	if took < delay || took > delay+timeout {
		t.Errorf("shutdown took %v, want between D = %v and D + S", took, delay)
	}
	if stop := rec.at["stopping"] - rec.at["drain"]; stop < delay {
		t.Errorf("servers began stopping %v after readiness failed, before the drain delay %v", stop, delay)
	}
	if err := get(httpLn.Addr().String()); err == nil {
		t.Error("HTTP still serving after Run returned")
	}
}

// TestHardStop blocks an HTTP handler and a gRPC handler that both ignore
// their context, for ever; Run must still return within D + S + a little,
// and report both servers as cut, with the one call each had in flight.
func TestHardStop(t *testing.T) {
	const timeout = 500 * time.Millisecond
	release := make(chan struct{})
	defer close(release)
	entered := make(chan struct{}, 2)
	httpLn, grpcLn := listen(t), listen(t)
	httpSrv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		entered <- struct{}{}
		<-release
	})}
	var active Active
	grpcSrv := grpc.NewServer(
		grpc.ChainStreamInterceptor(active.StreamServerInterceptor()),
		grpc.UnknownServiceHandler(func(any, grpc.ServerStream) error {
			entered <- struct{}{}
			<-release
			return nil
		}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	hardStops := make(chan Cut, 2)
	go func() {
		done <- Run(ctx, Plan{
			Timeout: timeout, CleanupTimeout: time.Second,
			Servers:  []Server{HTTP("http", httpSrv, httpLn), GRPC("grpc", grpcSrv, grpcLn, &active, time.Second)},
			HardStop: func(c Cut) { hardStops <- c },
		})
	}()
	go func() { _ = get(httpLn.Addr().String()) }()
	conn, err := grpc.NewClient(grpcLn.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go func() {
		_ = conn.Invoke(context.Background(), "/stuck.Service/Forever", &healthpb.HealthCheckRequest{}, &healthpb.HealthCheckResponse{})
	}()
	<-entered
	<-entered
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil: a hard stop is the timeout working, not an error", err)
		}
		if took := time.Since(start); took < timeout || took > timeout+500*time.Millisecond {
			t.Errorf("Run returned after %v, want just after S = %v", took, timeout)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stuck handlers held Run past S")
	}
	close(hardStops)
	var stopped []string
	for c := range hardStops {
		stopped = append(stopped, c.Server)
		if c.InFlight != 1 || c.Cleanup {
			t.Errorf("cut %+v, want 1 in flight, in phase 4", c)
		}
	}
	slices.Sort(stopped)
	if !slices.Equal(stopped, []string{"grpc", "http"}) {
		t.Errorf("HardStop called for %v, want both servers", stopped)
	}
}

// quietClient is a client that connects and then misbehaves in one way,
// holding the connection open until the test ends.
type quietClient struct {
	name string
	// send writes what the client writes after connecting, if anything.
	send func(net.Conn) error
}

// quietClients are the clients that the bound must hold against: they
// keep connections open with nothing in flight on them.
var quietClients = []quietClient{
	{"silent", func(net.Conn) error { return nil }},
	{"half an HTTP/2 preface", func(c net.Conn) error {
		_, err := c.Write([]byte("PRI * HTTP/2.0\r\n"))
		return err
	}},
	{"half a request header", func(c net.Conn) error {
		_, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n"))
		return err
	}},
}

// TestQuietConnectionsHoldNothing opens, on an HTTP and a gRPC server and on
// an admin server, connections that send nothing or stop halfway through
// the preface or a header, with handshake and header timeouts far longer
// than S and F. Run must return within S + F, and report no hard stop:
// nothing was in flight. grpc-go waits for a connection's handshake in both
// GracefulStop and Stop, so without the hard stop's closing of recent
// connections the gRPC server would hold Run for the handshake timeout.
func TestQuietConnectionsHoldNothing(t *testing.T) {
	const timeout, cleanup, long = 300 * time.Millisecond, 400 * time.Millisecond, time.Minute
	for _, qc := range quietClients {
		t.Run(qc.name, func(t *testing.T) {
			httpLn, grpcLn, adminLn := listen(t), listen(t), listen(t)
			httpSrv := &http.Server{ReadHeaderTimeout: long, Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
			adminSrv := &http.Server{ReadHeaderTimeout: long, Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
			var active Active
			grpcSrv := grpc.NewServer(grpc.ConnectionTimeout(long), grpc.ChainUnaryInterceptor(active.UnaryServerInterceptor()))
			healthpb.RegisterHealthServer(grpcSrv, health.NewServer())
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			var cuts []Cut
			var mu sync.Mutex
			ready := make(chan struct{})
			go func() {
				done <- Run(ctx, Plan{
					Timeout: timeout, CleanupTimeout: cleanup,
					Servers: []Server{HTTP("http", httpSrv, httpLn), GRPC("grpc", grpcSrv, grpcLn, &active, long)},
					Admin:   []Server{HTTP("health", adminSrv, adminLn)},
					Ready:   func() { close(ready) },
					HardStop: func(c Cut) {
						mu.Lock()
						cuts = append(cuts, c)
						mu.Unlock()
					},
				})
			}()
			<-ready
			// A served call first: the quiet connections sit beside a
			// connection that did work, as they would in production.
			waitFor(t, func() bool { return grpcCheck(grpcLn.Addr().String()) == nil })
			for _, ln := range []net.Listener{httpLn, grpcLn, adminLn} {
				c, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if err := qc.send(c); err != nil {
					t.Fatal(err)
				}
			}
			start := time.Now()
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run = %v, want nil", err)
				}
				if took := time.Since(start); took > timeout+cleanup+500*time.Millisecond {
					t.Errorf("Run returned after %v, want at most S + F = %v", took, timeout+cleanup)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("a quiet connection held Run past S + F")
			}
			mu.Lock()
			defer mu.Unlock()
			if len(cuts) != 0 {
				t.Errorf("hard stops reported %+v, want none: nothing was in flight", cuts)
			}
		})
	}
}

// TestCleanupIsBounded: a cleanup step that ignores its context is
// abandoned when F runs out and reported; Run does not wait for it.
func TestCleanupIsBounded(t *testing.T) {
	const cleanup = 300 * time.Millisecond
	release := make(chan struct{})
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	err := Run(ctx, Plan{
		Timeout: time.Second, CleanupTimeout: cleanup,
		Servers: []Server{HTTP("http", &http.Server{}, listen(t))},
		Cleanup: []Cleanup{
			{Name: "stuck pool", Run: func(context.Context) error { <-release; return nil }},
		},
	})
	if took := time.Since(start); took > cleanup+500*time.Millisecond {
		t.Errorf("Run returned after %v, want about F = %v", took, cleanup)
	}
	if err == nil || !strings.Contains(err.Error(), "cleanup stuck pool: still running when the cleanup timeout ran out") {
		t.Errorf("Run = %v, want the abandoned step reported", err)
	}
}

// TestServeFailure returns at once, without the drain delay, when a server
// cannot serve.
func TestServeFailure(t *testing.T) {
	ln := listen(t)
	_ = ln.Close() // Serve on a closed listener fails at once.
	start := time.Now()
	err := Run(context.Background(), Plan{
		Delay: time.Minute, Timeout: time.Second, CleanupTimeout: time.Second,
		Servers: []Server{HTTP("http", &http.Server{}, ln)},
	})
	if err == nil || !strings.Contains(err.Error(), "http server") {
		t.Errorf("Run = %v, want the serve error", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("a failed server waited for the drain delay")
	}
}

func get(addr string) error {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

func grpcCheck(addr string) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	return err
}

// waitFor polls ok, which asks a server over the network: there is no
// event to wait on for "the listener now answers".
func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !ok() {
		select {
		case <-deadline.C:
			t.Fatal("condition never held")
		case <-tick.C:
		}
	}
}
