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
			Servers:  []Server{HTTP("http", httpSrv, httpLn), GRPC("grpc", grpcSrv, grpcLn)},
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
// their context; Run must still return within D + S + a little.
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
	grpcSrv := grpc.NewServer(grpc.UnknownServiceHandler(func(any, grpc.ServerStream) error {
		entered <- struct{}{}
		<-release
		return nil
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	hardStops := make(chan string, 2)
	go func() {
		done <- Run(ctx, Plan{
			Timeout: timeout, CleanupTimeout: time.Second,
			Servers:  []Server{HTTP("http", httpSrv, httpLn), GRPC("grpc", grpcSrv, grpcLn)},
			HardStop: func(server string) { hardStops <- server },
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
	for s := range hardStops {
		stopped = append(stopped, s)
	}
	slices.Sort(stopped)
	if !slices.Equal(stopped, []string{"grpc", "http"}) {
		t.Errorf("HardStop called for %v, want both servers", stopped)
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
