// Package servicetest starts the real example-service binary for tests and puts it
// under load, the way Kubernetes and its clients would. It exists for the
// shutdown and client tests; nothing in the service imports it.
package servicetest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
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
// them and removes the build. After passing tests it fails the package if any
// goroutine outlived them (goleak), because a leaked load lane or watcher is
// how one test disturbs the next. Use it as TestMain:
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
	code := m.Run()
	if code == 0 {
		// Kept-alive connections of the default client are not leaks.
		http.DefaultClient.CloseIdleConnections()
		if err := goleak.Find(IgnoreGlog); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines outlived the tests:", err)
			code = 1
		}
	}
	return code
}

// IgnoreGlog is for goleak: glog flushes its buffers from a goroutine that
// lives as long as the process.
var IgnoreGlog = goleak.IgnoreTopFunction("github.com/golang/glog.(*fileSink).flushDaemon")

// Options configure one process.
type Options struct {
	// Host is the loopback address to listen on; default 127.0.0.1. Several
	// processes can share ports on different 127.0.0.0/8 addresses.
	Host string
	// GRPCPort, if set, is the gRPC port instead of one the kernel picks.
	// Only tests that need every backend on one port set it: a headless
	// Service's DNS gives addresses, not ports. Such a start is retried when
	// the port is taken, since nothing can reserve a port on another address.
	GRPCPort        int
	ShutdownDelay   time.Duration
	ShutdownTimeout time.Duration
	// Version is passed as SERVICE_VERSION.
	Version string
	// Args are extra flags.
	Args []string
	// Env are extra environment variables, "KEY=value".
	Env []string
}

// Process is a running service.
type Process struct {
	HTTPAddr, GRPCAddr, HealthAddr string

	cmd    *exec.Cmd
	done   chan struct{}
	mu     sync.Mutex
	stderr bytes.Buffer
	logged changes // on every write to stderr
	exit   error
	exitAt time.Time
}

// addrInUseTries bounds the retries of a start on a fixed port.
const addrInUseTries = 5

// Start runs bin with its listeners on ports that the kernel picks (port 0),
// and returns once the process has reported where it is listening. Nothing
// is guessed, so processes started side by side never collide. The process
// is killed when the test ends, if it is still running.
func Start(t testing.TB, bin string, o Options) *Process {
	t.Helper()
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Version == "" {
		o.Version = "test"
	}
	for try := 1; ; try++ {
		p, err := start(t, bin, o)
		if err == nil {
			return p
		}
		if o.GRPCPort == 0 || !errors.Is(err, errAddrInUse) || try == addrInUseTries {
			t.Fatal(err)
		}
		t.Logf("start %d of %d: %v; trying again", try, addrInUseTries, err)
	}
}

// errAddrInUse marks a start that failed because a port was taken.
var errAddrInUse = errors.New("address already in use")

// startTimeout bounds how long a process may take to open its listeners.
const startTimeout = 30 * time.Second

func start(t testing.TB, bin string, o Options) (*Process, error) {
	// The process writes its bound addresses to the pipe's write end, which
	// it gets as fd 3; its one line arrives the moment every listener is
	// open, or EOF arrives if the process exits first.
	addrR, addrW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("address pipe: %w", err)
	}
	defer addrR.Close()
	p := &Process{done: make(chan struct{}), logged: newChanges()}
	args := append([]string{
		"-http-addr=" + net.JoinHostPort(o.Host, "0"),
		"-grpc-addr=" + net.JoinHostPort(o.Host, strconv.Itoa(o.GRPCPort)),
		"-health-addr=" + net.JoinHostPort(o.Host, "0"),
		"-addr-file=/dev/fd/3",
		// The proofs drive the drill; a test of the service without it
		// passes -drill=false in Args.
		"-drill",
		"-shutdown-delay=" + o.ShutdownDelay.String(),
		"-shutdown-timeout=" + orDefault(o.ShutdownTimeout, 5*time.Second).String(),
	}, o.Args...)
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(append(os.Environ(), "SERVICE_VERSION="+o.Version), o.Env...)
	p.cmd.Stderr = logWriter{p}
	p.cmd.ExtraFiles = []*os.File{addrW}
	err = p.cmd.Start()
	_ = addrW.Close() // the child has its own copy
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
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

	_ = addrR.SetReadDeadline(time.Now().Add(startTimeout))
	line, readErr := bufio.NewReader(addrR).ReadBytes('\n')
	var bound struct{ HTTP, GRPC, Health string }
	if readErr == nil {
		readErr = json.Unmarshal(line, &bound)
	}
	if readErr != nil {
		// No addresses: the process exited, or hung before listening.
		_ = p.cmd.Process.Kill()
		<-p.done
		err := fmt.Errorf("%s did not report its addresses (%v): %v\n%s", bin, readErr, p.ExitErr(), p.Stderr())
		if strings.Contains(p.Stderr(), "address already in use") {
			err = fmt.Errorf("%w: %w", errAddrInUse, err)
		}
		return nil, err
	}
	p.HTTPAddr, p.GRPCAddr, p.HealthAddr = bound.HTTP, bound.GRPC, bound.Health
	return p, nil
}

// WaitReady waits until /readyz answers 200.
func (p *Process) WaitReady(t testing.TB, timeout time.Duration) {
	t.Helper()
	p.waitProbe(t, "/readyz", true, timeout)
}

// WaitUnready waits until /readyz stops answering 200, as it must as soon as
// a shutdown begins, while the process is still running.
func (p *Process) WaitUnready(t testing.TB, timeout time.Duration) {
	t.Helper()
	p.waitProbe(t, "/readyz", false, timeout)
}

// probeEvery is how often waitProbe asks, as a kubelet would, but faster.
const probeEvery = 10 * time.Millisecond

func (p *Process) waitProbe(t testing.TB, path string, want bool, timeout time.Duration) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(probeEvery)
	defer tick.Stop()
	for p.probe(path) != want {
		select {
		case <-p.done:
			t.Fatalf("process exited while waiting for %s to answer ok=%v: %v\n%s", path, want, p.ExitErr(), p.Stderr())
		case <-deadline.C:
			t.Fatalf("%s did not answer ok=%v within %v\n%s", path, want, timeout, p.Stderr())
		case <-tick.C:
		}
	}
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

// WaitLog waits until the process has logged substr, and reports whether it
// did within timeout. It wakes on every write, so it never waits longer than
// the log line takes to arrive.
func (p *Process) WaitLog(substr string, timeout time.Duration) bool {
	return waitUntil(timeout, func() (bool, <-chan struct{}) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return strings.Contains(p.stderr.String(), substr), p.logged.next()
	})
}

// Stderr is what the process has logged so far.
func (p *Process) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
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

// logWriter collects the process's stderr and wakes WaitLog.
type logWriter struct{ p *Process }

func (l logWriter) Write(b []byte) (int, error) {
	l.p.mu.Lock()
	defer l.p.mu.Unlock()
	l.p.logged.notify()
	return l.p.stderr.Write(b)
}
