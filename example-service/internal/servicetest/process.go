// Package servicetest starts the real example-service binary for tests and puts it
// under load, the way Kubernetes and its clients would. It exists for the
// shutdown and client tests; nothing in the service imports it.
package servicetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Build compiles the service into dir and returns the binary's path. Call it
// from TestMain, so that one build serves every test of a package; the go
// build cache makes it cheap across packages.
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "example-service")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/zerodrop/zerodrop/example-service/cmd/example-service")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build example-service: %w\n%s", err, out)
	}
	return bin, nil
}

// Main builds the service once for a package's tests, points *bin at it, runs
// them and removes the build. Use it as TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(servicetest.Main(m, &binPath)) }
func Main(m *testing.M, bin *string) int {
	dir, err := os.MkdirTemp("", "example-service-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if *bin, err = Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// Options configure one process.
type Options struct {
	// Host is the loopback address to listen on; default 127.0.0.1. Several
	// processes can share ports on different 127.0.0.0/8 addresses.
	Host string
	// GRPCPort, if set, is used instead of a free port.
	GRPCPort        int
	ShutdownDelay   time.Duration
	ShutdownTimeout time.Duration
	// Version is passed as SERVICE_VERSION.
	Version string
	// Args are extra flags.
	Args []string
}

// Process is a running service.
type Process struct {
	HTTPAddr, GRPCAddr, HealthAddr string

	cmd    *exec.Cmd
	done   chan struct{}
	mu     sync.Mutex
	stderr bytes.Buffer
	exit   error
	exitAt time.Time
}

// Start runs bin with its listeners on free loopback ports. The process is
// killed when the test ends, if it is still running.
func Start(t testing.TB, bin string, o Options) *Process {
	t.Helper()
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Version == "" {
		o.Version = "test"
	}
	grpcPort := o.GRPCPort
	if grpcPort == 0 {
		grpcPort = FreePort(t, o.Host)
	}
	p := &Process{
		HTTPAddr:   net.JoinHostPort(o.Host, strconv.Itoa(FreePort(t, o.Host))),
		GRPCAddr:   net.JoinHostPort(o.Host, strconv.Itoa(grpcPort)),
		HealthAddr: net.JoinHostPort(o.Host, strconv.Itoa(FreePort(t, o.Host))),
		done:       make(chan struct{}),
	}
	args := append([]string{
		"-http-addr=" + p.HTTPAddr,
		"-grpc-addr=" + p.GRPCAddr,
		"-health-addr=" + p.HealthAddr,
		"-shutdown-delay=" + o.ShutdownDelay.String(),
		"-shutdown-timeout=" + orDefault(o.ShutdownTimeout, 5*time.Second).String(),
	}, o.Args...)
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), "SERVICE_VERSION="+o.Version)
	p.cmd.Stderr = lockedWriter{&p.mu, &p.stderr}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		err := p.cmd.Wait()
		p.mu.Lock()
		p.exit, p.exitAt = err, time.Now()
		p.mu.Unlock()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("stderr of %s:\n%s", p.HTTPAddr, p.Stderr())
		}
	})
	return p
}

// WaitReady waits until /readyz answers 200.
func (p *Process) WaitReady(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if p.Ready() {
			return
		}
		select {
		case <-p.done:
			t.Fatalf("process exited before it was ready: %v\n%s", p.ExitErr(), p.Stderr())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("not ready after %v\n%s", timeout, p.Stderr())
}

var probeClient = &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// Ready reports whether /readyz answers 200.
func (p *Process) Ready() bool { return p.probe("/readyz") }

// Live reports whether /livez answers 200.
func (p *Process) Live() bool { return p.probe("/livez") }

func (p *Process) probe(path string) bool {
	resp, err := probeClient.Get("http://" + p.HealthAddr + path)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Signal sends sig to the process.
func (p *Process) Signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// Kill sends SIGKILL, as a node failure or an OOM kill would.
func (p *Process) Kill(t testing.TB) { p.Signal(t, syscall.SIGKILL) }

// Wait waits up to timeout for the process to exit and returns its exit code
// and when it exited.
func (p *Process) Wait(timeout time.Duration) (code int, at time.Time, err error) {
	select {
	case <-p.done:
	case <-time.After(timeout):
		return 0, time.Time{}, fmt.Errorf("still running after %v", timeout)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var ee *exec.ExitError
	switch {
	case p.exit == nil:
		return 0, p.exitAt, nil
	case errors.As(p.exit, &ee):
		return ee.ExitCode(), p.exitAt, nil
	default:
		return 0, p.exitAt, p.exit
	}
}

// Exited is closed when the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.done }

// ExitErr is how the process ended, once it has.
func (p *Process) ExitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exit
}

// Stderr is what the process has logged so far.
func (p *Process) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// FreePort finds a free TCP port on host. Another process may take it before
// it is used; on loopback in a test that is rare enough.
func FreePort(t testing.TB, host string) int {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// WithTimeout is a context for one test step.
func WithTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
