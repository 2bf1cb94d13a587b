package main

// These tests start the real binary and hold it to the shutdown contract in
// internal/lifecycle, under load, the way a Kubernetes rollout would.

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	drillv1 "github.com/zerodrop/zerodrop/example-service/api/exampleservice/drill/v1"
	"github.com/zerodrop/zerodrop/example-service/internal/servicetest"
)

// binPath is the service binary that TestMain builds for every test.
var binPath string

func TestMain(m *testing.M) { os.Exit(servicetest.Main(m, &binPath)) }

func binary(*testing.T) string { return binPath }

// Timings for the tests: short, but in the same proportions as production.
const (
	drainDelay      = 1500 * time.Millisecond // D
	shutdownTimeout = 2 * time.Second         // S
	probePoll       = 100 * time.Millisecond  // how often the balancer probes
	propagation     = 500 * time.Millisecond  // how late it applies what it saw; poll + propagation < D
	// loadWarmup is how many successful requests of each kind a test waits
	// for before it disturbs anything: about a second of the load below.
	loadWarmup = 20
)

func newLoad(b *servicetest.Balancer) *servicetest.Load {
	return &servicetest.Load{
		Balancer:    b,
		Kinds:       []servicetest.Kind{servicetest.HTTPFresh, servicetest.HTTPKeepAlive, servicetest.GRPC},
		Rate:        100,
		Lanes:       4,
		Timeout:     2 * time.Second,
		MaxDuration: time.Minute,
	}
}

// TestDrainUnderLoad sends SIGTERM to a process under HTTP (new and kept-alive
// connections) and gRPC load. The load follows readiness like kube-proxy, late
// but within D. No request may fail, /livez must stay 200 until exit, and the
// process must exit within D + S + 1s.
func TestDrainUnderLoad(t *testing.T) {
	p := servicetest.Start(t, binary(t), servicetest.Options{ShutdownDelay: drainDelay, ShutdownTimeout: shutdownTimeout})
	p.WaitReady(t, 10*time.Second)
	b := servicetest.NewBalancer(probePoll, propagation)
	defer b.Close()
	b.Add(p)
	if !b.WaitRoutable(p, 5*time.Second) {
		t.Fatal("balancer never routed to the process")
	}

	run := newLoad(b).Start()
	run.WaitOK(t, loadWarmup)

	livez := make(chan bool, 1)
	go func() { livez <- liveUntilExit(p) }()
	p.Signal(t, syscall.SIGTERM)
	sigAt := time.Now()

	code, exitAt, err := p.Wait(drainDelay + shutdownTimeout + 5*time.Second)
	counts := run.Stop()
	for kind, c := range counts {
		t.Logf("%-15s %v", kind, c)
	}
	if err != nil {
		t.Fatalf("process did not exit: %v", err)
	}
	if took := exitAt.Sub(sigAt); took > drainDelay+shutdownTimeout+time.Second {
		t.Errorf("exit took %v, want at most D + S + 1s = %v", took, drainDelay+shutdownTimeout+time.Second)
	} else if took < drainDelay {
		t.Errorf("exit took %v, less than the drain delay %v", took, drainDelay)
	}
	if code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if !<-livez {
		t.Error("/livez failed before the process exited")
	}
	for kind, c := range counts {
		if c.Failed != 0 {
			t.Errorf("%s: %d of %d requests failed", kind, c.Failed, c.Sent)
		}
		if c.OK == 0 {
			t.Errorf("%s: no request succeeded; the load never ran", kind)
		}
	}
}

// liveUntilExit polls /livez until the process exits, and reports whether it
// answered 200 for as long as the process served traffic. The health server
// stops only after the traffic listeners have closed, so a failed /livez while
// the HTTP port still accepts connections breaks the contract.
func liveUntilExit(p *servicetest.Process) bool {
	for {
		if !p.Live() {
			select {
			case <-p.Exited():
				return true
			default:
			}
			conn, err := net.DialTimeout("tcp", p.HTTPAddr, time.Second)
			if err != nil {
				return true // the traffic listener had already closed
			}
			_ = conn.Close()
			return false
		}
		select {
		case <-p.Exited():
			return true
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestRollingUpdate replaces 3 replicas one by one under load, as a Deployment
// with maxSurge 1 and maxUnavailable 0 does: start a new one, wait until the
// balancer routes to it, then SIGTERM an old one. With the drain delay, no
// request fails. Without it (D = 0), requests do fail: the test can tell.
func TestRollingUpdate(t *testing.T) {
	withDrain := rollout(t, drainDelay)
	withoutDrain := rollout(t, 0)
	t.Logf("rollout failures: %d with D = %v, %d with D = 0", withDrain, drainDelay, withoutDrain)
	if withDrain != 0 {
		t.Errorf("%d requests failed during the rollout with D = %v, want 0", withDrain, drainDelay)
	}
	if withoutDrain == 0 {
		t.Error("no request failed with D = 0: the test cannot detect a missing drain")
	}
}

// rollout runs one rolling update from v1 to v2 and returns how many requests
// failed.
func rollout(t *testing.T, delay time.Duration) int64 {
	t.Helper()
	bin := binary(t)
	b := servicetest.NewBalancer(probePoll, propagation)
	defer b.Close()
	start := func(version string) *servicetest.Process {
		p := servicetest.Start(t, bin, servicetest.Options{ShutdownDelay: delay, ShutdownTimeout: shutdownTimeout, Version: version})
		p.WaitReady(t, 10*time.Second)
		b.Add(p)
		if !b.WaitRoutable(p, 5*time.Second) {
			t.Fatalf("balancer never routed to %s", p.HTTPAddr)
		}
		return p
	}
	var old []*servicetest.Process
	for range 3 {
		old = append(old, start("v1"))
	}
	run := newLoad(b).Start()
	run.WaitOK(t, loadWarmup)
	for _, o := range old {
		start("v2")
		o.Signal(t, syscall.SIGTERM)
		// The next surge pod starts while this one drains, as in Kubernetes.
	}
	for _, o := range old {
		if _, _, err := o.Wait(delay + shutdownTimeout + 5*time.Second); err != nil {
			t.Fatalf("old replica did not exit: %v", err)
		}
	}
	// Only the new replicas are left: the load runs on until each kind has
	// been served by them, whatever its connections did during the rollout.
	fromV2 := run.WaitFor(30*time.Second, func(counts map[servicetest.Kind]*servicetest.Counts) bool {
		for _, c := range counts {
			if c.Versions["v2"] < loadWarmup {
				return false
			}
		}
		return true
	})
	counts := run.Stop()
	for kind, c := range counts {
		t.Logf("D=%v %-15s %v", delay, kind, c)
	}
	if !fromV2 {
		t.Errorf("D=%v: not every kind of client reached the new replicas within 30s after the rollout", delay)
	}
	_, failed := servicetest.Total(counts)
	return failed
}

// TestShutdownTimeoutBoundsStuckWork holds an HTTP request in a handler that
// ignores its context and a gRPC stream open across SIGTERM. Neither may keep
// the process past D + S; the stream must end with UNAVAILABLE (resume
// elsewhere) when the graceful stop begins.
func TestShutdownTimeoutBoundsStuckWork(t *testing.T) {
	const delay, timeout = 500 * time.Millisecond, time.Second
	// Kubernetes creates the termination log; the service only writes it.
	termLog := filepath.Join(t.TempDir(), "termination-log")
	if err := os.WriteFile(termLog, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p := servicetest.Start(t, binary(t), servicetest.Options{ShutdownDelay: delay, ShutdownTimeout: timeout,
		Args: []string{"-termination-log=" + termLog}})
	p.WaitReady(t, 10*time.Second)

	conn, err := grpc.NewClient(p.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stream, err := drillv1.NewDrillClient(conn).Watch(context.Background(), &drillv1.WatchRequest{IntervalMs: 50})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("first Watch message: %v", err)
	}
	streamEnd := make(chan error, 1)
	go func() {
		for {
			if _, err := stream.Recv(); err != nil {
				streamEnd <- err
				return
			}
		}
	}()
	stuck := make(chan error, 1)
	sent := make(chan struct{})
	go func() {
		trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { close(sent) }}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, "http://"+p.HTTPAddr+"/drill/work?sleep=1m", nil)
		if err != nil {
			stuck <- err
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		stuck <- err
	}()
	// The request is on the wire; the server reads it well within D.
	select {
	case <-sent:
	case err := <-stuck:
		t.Fatalf("the stuck request ended before SIGTERM: %v", err)
	}

	p.Signal(t, syscall.SIGTERM)
	sigAt := time.Now()
	code, exitAt, err := p.Wait(delay + timeout + 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	took := exitAt.Sub(sigAt)
	t.Logf("exit after %v with a stuck handler and an open stream (D = %v, S = %v)", took, delay, timeout)
	if took > delay+timeout+2*time.Second {
		t.Errorf("exit took %v, want less than D + S + 2s", took)
	}
	if code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if err := <-streamEnd; status.Code(err) != codes.Unavailable {
		t.Errorf("Watch ended with %v, want UNAVAILABLE when the graceful stop began, so that the client resumes elsewhere", err)
	}
	if err := <-stuck; err == nil {
		t.Error("the stuck request completed; it should have been cut by the hard stop")
	}
	if !strings.Contains(p.Stderr(), "closing it hard") {
		t.Errorf("the log does not record the hard stop:\n%s", p.Stderr())
	}
	msg, err := os.ReadFile(termLog)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(msg), "hard stop: the http server(s)") {
		t.Errorf("termination message %q does not report the hard stop of the http server", msg)
	}
}

// TestNoTerminationLogOutsideKubernetes: a clean shutdown writes no
// termination message, and a missing termination log is never created.
func TestNoTerminationLogOutsideKubernetes(t *testing.T) {
	dir := t.TempDir()
	missing, empty := filepath.Join(dir, "missing"), filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{missing, empty} {
		p := servicetest.Start(t, binary(t), servicetest.Options{ShutdownDelay: 10 * time.Millisecond, Args: []string{"-termination-log=" + path}})
		p.WaitReady(t, 10*time.Second)
		p.Signal(t, syscall.SIGTERM)
		if code, _, err := p.Wait(10 * time.Second); err != nil || code != 0 {
			t.Fatalf("exit %d, %v", code, err)
		}
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the service created a termination log: %v", err)
	}
	if b, _ := os.ReadFile(empty); len(b) != 0 {
		t.Errorf("a clean shutdown wrote a termination message: %q", b)
	}
}

// TestSecondSignalExitsAtOnce sends SIGTERM, then SIGINT during the drain
// delay: the process must exit at once, non-zero.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	p := servicetest.Start(t, binary(t), servicetest.Options{ShutdownDelay: time.Minute, ShutdownTimeout: time.Minute})
	p.WaitReady(t, 10*time.Second)
	p.Signal(t, syscall.SIGTERM)
	// Readiness fails at once, and the process lives on through D (a minute).
	p.WaitUnready(t, 10*time.Second)
	p.Signal(t, syscall.SIGINT)
	sigAt := time.Now()
	code, exitAt, err := p.Wait(5 * time.Second)
	if err != nil {
		t.Fatalf("second signal did not stop the process: %v", err)
	}
	if took := exitAt.Sub(sigAt); took > time.Second {
		t.Errorf("exit took %v after the second signal", took)
	}
	if code == 0 {
		t.Error("exit code 0 after a second signal, want non-zero")
	}
}

// TestBadConfigurationFailsBeforeListening checks that bad settings exit
// non-zero with one clear line, before any listener opens.
func TestBadConfigurationFailsBeforeListening(t *testing.T) {
	busy := servicetest.Start(t, binary(t), servicetest.Options{})
	busy.WaitReady(t, 10*time.Second)
	tests := []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{name: "malformed duration", env: []string{"SHUTDOWN_DELAY=ten"}, want: `SHUTDOWN_DELAY="ten" is not a valid --shutdown-delay`},
		{name: "negative delay", args: []string{"-shutdown-delay=-1s"}, want: "--shutdown-delay -1s is negative"},
		{name: "address in use", args: []string{"-grpc-addr=" + busy.GRPCAddr}, want: "listen on " + busy.GRPCAddr},
		// Validation rejects this before anything listens, so the port need
		// not be free.
		{name: "same address twice", args: []string{"-http-addr=127.0.0.1:8443", "-grpc-addr=127.0.0.1:8443"}, want: "give each listener its own port"},
		{name: "stray argument", args: []string{"serve"}, want: `unexpected arguments ["serve"]`},
		{name: "relay without the drill", args: []string{"-drill-upstream=dns:///core-headless.core.svc.cluster.local.:9090"}, want: "needs --drill: the relay is part of the drill"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(binary(t), append([]string{"-http-addr=127.0.0.1:0", "-health-addr=127.0.0.1:0", "-grpc-addr=127.0.0.1:0"}, tt.args...)...)
			cmd.Env = append(os.Environ(), tt.env...)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if err == nil || !errors.As(err, &ee) || ee.ExitCode() == 0 {
				t.Fatalf("exit: %v, want non-zero\n%s", err, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("output %q lacks %q", out, tt.want)
			}
			if strings.Contains(string(out), "serving; ready") {
				t.Errorf("the process started serving:\n%s", out)
			}
		})
	}
}

// TestHelpListsEveryFlag checks that -help documents each setting with its
// environment variable and default.
func TestHelpListsEveryFlag(t *testing.T) {
	out, err := exec.Command(binary(t), "-help").CombinedOutput()
	if err != nil {
		t.Fatalf("-help: %v\n%s", err, out)
	}
	for _, want := range []string{
		"-http-addr", "env HTTP_ADDR", "-grpc-addr", "env GRPC_ADDR", "-health-addr", "env HEALTH_ADDR", "-addr-file", "env ADDR_FILE",
		"-shutdown-delay", "env SHUTDOWN_DELAY", "(default 10s)",
		"-shutdown-timeout", "env SHUTDOWN_TIMEOUT", "(default 15s)",
		"-cleanup-timeout", "-grpc-max-connection-age", "-grpc-max-connection-age-grace", "env GRPC_MAX_CONNECTION_AGE_GRACE", "-service-version", "env SERVICE_VERSION",
		"-memory-limit", "env MEMORY_LIMIT", "-termination-log", "env TERMINATION_LOG",
		"-v value", // glog's own flags
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("-help lacks %q", want)
		}
	}
}

// TestVersionMetricsAndAccessLog checks that the deployed version is reported
// everywhere it is promised (X-Version, /version, the drill's answers, the
// build_info metric), that HTTP and gRPC requests are counted, and that the access log
// records API calls but leaves health checks out.
func TestVersionMetricsAndAccessLog(t *testing.T) {
	p := servicetest.Start(t, binary(t), servicetest.Options{Version: "v9.8.7", Args: []string{"-v=1"}})
	p.WaitReady(t, 10*time.Second)

	resp, err := http.Get("http://" + p.HTTPAddr + "/version")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.Header.Get("X-Version") != "v9.8.7" || !strings.Contains(string(body), `"version":"v9.8.7"`) || !strings.Contains(string(body), `"goVersion":"go`) {
		t.Errorf("/version: X-Version %q, body %s", resp.Header.Get("X-Version"), body)
	}

	resp, err = http.Get("http://" + p.HTTPAddr + "/drill/work?sleep=never")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()

	conn, err := grpc.NewClient(p.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := servicetest.WithTimeout(t, 5*time.Second)
	v, err := drillv1.NewDrillClient(conn).Work(ctx, &drillv1.WorkRequest{})
	if err != nil || v.GetVersion() != "v9.8.7" {
		t.Errorf("Work = %v, %v", v, err)
	}
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("health check: %v", err)
	}

	resp, err = http.Get("http://" + p.HealthAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	for _, want := range []string{
		`example_service_build_info{goversion="go`,
		`version="v9.8.7"} 1`,
		`http_requests_total{code="200",handler="version",method="get"} 1`,
		`http_requests_total{code="400",handler="drill_work",method="get"} 1`,
		`http_request_duration_seconds_count{handler="version",method="get"} 1`,
		`grpc_server_handled_total{grpc_code="OK",grpc_method="Work",grpc_service="exampleservice.drill.v1.Drill",grpc_type="unary"} 1`,
		"grpc_server_handling_seconds_bucket",
		"go_goroutines",
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// The access log is written once a request is answered.
	p.WaitLog("http.path=/drill/work", 10*time.Second)
	logs := p.Stderr()
	if !strings.Contains(logs, "Work") {
		t.Errorf("the access log (-v=1) does not record Work:\n%s", logs)
	}
	if strings.Contains(logs, "grpc.health.v1") {
		t.Errorf("health checks reached the access log:\n%s", logs)
	}
	if !hasLine(logs, "finished request http.method=GET", "http.route=/version", "http.code=200 ") ||
		!hasLine(logs, "finished request http.method=GET", "http.route=/drill/work", "http.code=400 ") {
		t.Errorf("the access log (-v=1) lacks a line for GET /version (200) or GET /drill/work (400):\n%s", logs)
	}
	if strings.Contains(logs, "http.path=/metrics") {
		t.Errorf("the health port's requests reached the access log:\n%s", logs)
	}
}

// TestDrillIsOffByDefault: without --drill, nothing of the drill is
// reachable: not its gRPC service, not its HTTP route, not in reflection,
// not in grpc.health.v1; with it, all of them answer.
func TestDrillIsOffByDefault(t *testing.T) {
	for _, on := range []bool{false, true} {
		p := servicetest.Start(t, binary(t), servicetest.Options{Args: []string{"-drill=" + strconv.FormatBool(on), "-grpc-reflection"}})
		p.WaitReady(t, 10*time.Second)
		conn, err := grpc.NewClient(p.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx := servicetest.WithTimeout(t, 10*time.Second)

		_, err = drillv1.NewDrillClient(conn).Work(ctx, &drillv1.WorkRequest{})
		if on && err != nil || !on && status.Code(err) != codes.Unimplemented {
			t.Errorf("drill %v: Work = %v", on, err)
		}
		resp, err := http.Get("http://" + p.HTTPAddr + "/drill/work")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if want := map[bool]int{false: http.StatusNotFound, true: http.StatusOK}[on]; resp.StatusCode != want {
			t.Errorf("drill %v: GET /drill/work = %d, want %d", on, resp.StatusCode, want)
		}
		h, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: drillv1.Drill_ServiceDesc.ServiceName})
		if on && h.GetStatus() != healthpb.HealthCheckResponse_SERVING || !on && status.Code(err) != codes.NotFound {
			t.Errorf("drill %v: health of %s = %v, %v", on, drillv1.Drill_ServiceDesc.ServiceName, h, err)
		}
		services, err := servicetest.ReflectedServices(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		if services[drillv1.Drill_ServiceDesc.ServiceName] != on {
			t.Errorf("drill %v: reflection lists %v", on, services)
		}
	}
}

// TestFailuresAreLoggedByDefault checks that, with the access log off (the
// default verbosity), failed calls and HTTP requests are still logged and
// successful ones cost no log line.
func TestFailuresAreLoggedByDefault(t *testing.T) {
	p := servicetest.Start(t, binary(t), servicetest.Options{})
	p.WaitReady(t, 10*time.Second)
	conn, err := grpc.NewClient(p.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := servicetest.WithTimeout(t, 5*time.Second)
	c := drillv1.NewDrillClient(conn)
	if _, err := c.Count(ctx, &drillv1.CountRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Work(ctx, &drillv1.WorkRequest{WorkMs: 600000}); err == nil {
		t.Fatal("Work with too much work succeeded")
	}
	for path, want := range map[string]int{"/version": http.StatusOK, "/drill/work?sleep=never": http.StatusBadRequest} {
		resp, err := http.Get("http://" + p.HTTPAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	// The access log is written after the call returns.
	p.WaitLog("InvalidArgument", 10*time.Second)
	p.WaitLog("http.code=400", 10*time.Second)
	logs := p.Stderr()
	if !strings.Contains(logs, "Work") || !strings.Contains(logs, "InvalidArgument") {
		t.Errorf("the failed call was not logged at the default verbosity:\n%s", logs)
	}
	if !strings.Contains(logs, "http.route=/drill/work http.path=/drill/work http.code=400 ") {
		t.Errorf("the failed HTTP request was not logged at the default verbosity:\n%s", logs)
	}
	if strings.Contains(logs, "Count") || strings.Contains(logs, "http.path=/version") {
		t.Errorf("a successful call or request was logged at the default verbosity:\n%s", logs)
	}
}

// TestMemoryLimitSetsTheGoSoftLimit starts the binary with the limit that the
// Deployment passes from the downward API, and checks that the runtime's soft
// limit follows it unless GOMEMLIMIT says otherwise.
func TestMemoryLimitSetsTheGoSoftLimit(t *testing.T) {
	p := servicetest.Start(t, binary(t), servicetest.Options{Args: []string{"-memory-limit=134217728"}})
	if !p.WaitLog("memory: Go soft limit 115 MiB, 90% of the container's 128 MiB", 10*time.Second) {
		t.Errorf("a 128 MiB limit did not set a 115 MiB soft limit:\n%s", p.Stderr())
	}
	for _, tt := range []struct {
		limit int64
		env   map[string]string
		want  int64
		set   bool
	}{
		{limit: 128 << 20, want: 120795948, set: true}, // 128 MiB / 10 * 9
		{limit: 0},
		{limit: 128 << 20, env: map[string]string{"GOMEMLIMIT": "100MiB"}},
	} {
		got, set := memoryLimit(tt.limit, func(k string) string { return tt.env[k] })
		if got != tt.want || set != tt.set {
			t.Errorf("memoryLimit(%d, %v) = %d, %v; want %d, %v", tt.limit, tt.env, got, set, tt.want, tt.set)
		}
	}
}
