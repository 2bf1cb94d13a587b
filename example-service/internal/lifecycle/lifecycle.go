// Package lifecycle runs example-service's servers and stops them in the one order that
// loses no request during a Kubernetes rolling update. This file is the
// service's shutdown contract; everything else follows it.
//
// # Why
//
// When a pod is deleted, Kubernetes starts two things at the same moment: it
// removes the pod from its EndpointSlices, and it sends the container SIGTERM.
// Nothing makes the first finish before the second. kube-proxy, CoreDNS,
// ingress controllers and gRPC clients keep sending new work for a while after
// SIGTERM, and only the application can cover that gap.
//
// # Shutdown sequence
//
//  1. SIGTERM or SIGINT arrives: the context given to Run is cancelled.
//  2. Readiness fails at once, on HTTP (/readyz answers 503) and gRPC
//     (grpc.health.v1 reports NOT_SERVING, which health-checking clients see
//     immediately). Every listener keeps accepting and serving.
//  3. The drain delay D (--shutdown-delay) passes while the service serves
//     normally, so that endpoint removal reaches everyone who routes to it.
//     HTTP responses carry Connection: close, so keep-alive clients reconnect
//     elsewhere.
//  4. HTTP Shutdown and gRPC GracefulStop run concurrently, bounded by the
//     timeout S (--shutdown-timeout). They close the listeners, let calls in
//     flight finish, and send GOAWAY; long-lived streams are told to end.
//     When S expires, each server still stopping is closed hard: its
//     listener and every connection are closed, handshakes included, and
//     the handlers still running see their context end. Nothing waits for
//     them: a handler that ignores its context cannot hold the exit. If
//     requests or streams were still in flight, Plan.HardStop hears of it:
//     the service counts it in a metric and reports it in the pod's
//     termination message, since the exit status does not. A server that
//     had only idle, silent or half-open connections lost nothing, and is
//     closed without a report.
//  5. Cleanup runs in the order given, bounded by the cleanup timeout F
//     (--cleanup-timeout): first the admin servers (health and metrics),
//     which keep answering probes until here and get at most half of F to
//     finish, then the steps of Plan.Cleanup in dependency order (clients
//     and pools). A step still running when F ends is abandoned and
//     reported as an error, and so is a server that has not finished.
//  6. Run returns and the process exits, 0 when nothing overran. A second
//     signal at any point exits at once with a non-zero status (see
//     SignalContext).
//
// The whole sequence takes at most D + S + F. The pod's
// terminationGracePeriodSeconds must be at least D + S + F plus a margin.
// scaffold new writes it into the kustomize base computed from the same
// defaults as D, S and F here, as a plain number: change SHUTDOWN_DELAY,
// SHUTDOWN_TIMEOUT or CLEANUP_TIMEOUT in the ConfigMap and raise it to match.
// scaffold lint checks that budget on the rendered manifests.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/golang/glog"
)

// Server is something that serves on an open listener until it is stopped.
type Server struct {
	Name string
	// Serve blocks until the server stops. It returns nil when the stop was
	// requested through Shutdown or Close.
	Serve func() error
	// Shutdown stops gracefully and returns ctx's error if ctx ends first.
	Shutdown func(ctx context.Context) error
	// Close stops at once, cutting connections and streams. It must not
	// block: Run does not wait for it, and a server still stopping is
	// waited for only within the cleanup timeout.
	Close func() error
	// InFlight counts the requests and streams being served now, so that
	// a hard stop is reported only when it cut some. Nil counts as one.
	InFlight func() int64
}

// Cut is a server that the hard stop closed while it still had work in
// flight.
type Cut struct {
	Server   string
	InFlight int64
	// Cleanup is true for an admin server, which ran out of its share of
	// the cleanup timeout F; a traffic server ran out of S.
	Cleanup bool
}

// Cleanup is a step of phase 5.
type Cleanup struct {
	Name string
	Run  func(ctx context.Context) error
}

// Plan is what Run runs.
type Plan struct {
	Delay, Timeout, CleanupTimeout time.Duration

	// Servers carry traffic; they are drained in phase 4.
	Servers []Server
	// Admin servers answer probes and metrics. They start with the others and
	// keep answering through the drain; they stop first in phase 5.
	Admin []Server

	// Ready is called once every server is serving.
	Ready func()
	// Drain fails readiness (phase 2).
	Drain func()
	// Stopping is called as phase 4 begins, to tell long-lived handlers to end.
	Stopping func()
	// HardStop is called, just before the server is closed, for each server
	// whose time ran out while it still had requests or streams: they are
	// about to be cut. Count it; the process still exits 0, because the
	// bound did its job, so nothing else would show that it happened.
	HardStop func(Cut)
	// Cleanup runs in order in phase 5, after the admin servers stop.
	Cleanup []Cleanup
}

// Run serves until ctx is cancelled, then shuts down as the package
// documentation describes, within D + S + F whatever clients and handlers
// do. It returns an error if a server fails or a phase overruns its
// budget; the process should then exit non-zero.
func Run(ctx context.Context, p Plan) error {
	all := append(append([]Server{}, p.Servers...), p.Admin...)
	failed := make(chan error, len(all))
	var serving sync.WaitGroup
	for _, s := range all {
		serving.Add(1)
		go func() {
			defer serving.Done()
			if err := s.Serve(); err != nil {
				failed <- fmt.Errorf("%s server: %w", s.Name, err)
			}
		}()
	}
	call(p.Ready)
	glog.Info("serving; ready")

	var serveErr error
	select {
	case <-ctx.Done():
		glog.Infof("shutdown: %v; failing readiness, serving on for %v", context.Cause(ctx), p.Delay)
	case serveErr = <-failed:
		glog.Errorf("shutdown: %v; stopping without drain delay", serveErr)
	}
	start := time.Now()
	elapsed := func() string { return time.Since(start).Round(time.Millisecond).String() }

	// Phase 2.
	call(p.Drain)
	// Phase 3: a failed server skips the delay; there is nothing left to protect.
	if serveErr == nil && p.Delay > 0 {
		timer := time.NewTimer(p.Delay)
		select {
		case <-timer.C:
		case serveErr = <-failed:
			timer.Stop()
			glog.Errorf("shutdown: %v during drain delay", serveErr)
		}
	}
	glog.Infof("shutdown: drain delay over after %s; stopping servers gracefully within %v", elapsed(), p.Timeout)

	// Phase 4.
	call(p.Stopping)
	sctx, cancelStop := context.WithTimeout(context.Background(), p.Timeout)
	errs := []error{serveErr, stopServers(sctx, p.Servers, false, p.HardStop)}
	cancelStop()
	glog.Infof("shutdown: servers stopped after %s", elapsed())

	// Phase 5.
	cctx, cancel := context.WithTimeout(context.Background(), p.CleanupTimeout)
	defer cancel()
	admin := Cleanup{Name: "admin servers", Run: func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, p.CleanupTimeout/2)
		defer cancel()
		return stopServers(ctx, p.Admin, true, p.HardStop)
	}}
	errs = append(errs, cleanUp(cctx, append([]Cleanup{admin}, p.Cleanup...)))
	if !wait(cctx, &serving) {
		errs = append(errs, fmt.Errorf("a server was still stopping when the cleanup timeout (%v) ran out", p.CleanupTimeout))
	}
	glog.Infof("shutdown: complete after %s", elapsed())
	return errors.Join(errs...)
}

// stopServers shuts servers down concurrently until ctx ends, then closes
// whatever is still running, without waiting for it to finish. A server
// that needed the hard stop is reported in the log, not as an error:
// bounding it is the point of the timeout.
func stopServers(ctx context.Context, servers []Server, admin bool, hardStop func(Cut)) error {
	var wg sync.WaitGroup
	errs := make([]error, len(servers))
	for i, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Shutdown(ctx)
			if err == nil {
				return
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				errs[i] = fmt.Errorf("shut down %s server: %w", s.Name, err)
			}
			n := int64(1)
			if s.InFlight != nil {
				n = s.InFlight()
			}
			if n > 0 {
				glog.Warningf("shutdown: %s server still had %d requests or streams when its time ran out; closing it hard", s.Name, n)
				if hardStop != nil {
					hardStop(Cut{Server: s.Name, InFlight: n, Cleanup: admin})
				}
			} else {
				glog.Infof("shutdown: %s server had nothing in flight, only idle or unfinished connections, when its time ran out; closing them", s.Name)
			}
			if err := s.Close(); err != nil {
				errs[i] = errors.Join(errs[i], fmt.Errorf("close %s server: %w", s.Name, err))
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// cleanUp runs the steps in order until they are done or ctx ends. A step
// that outlives ctx is left running, and reported: the process is about to
// exit, and the grace period will not wait for it.
func cleanUp(ctx context.Context, steps []Cleanup) error {
	var (
		mu   sync.Mutex
		errs []error
		step string
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, c := range steps {
			mu.Lock()
			step = c.Name
			mu.Unlock()
			if err := c.Run(ctx); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("cleanup %s: %w", c.Name, err))
				mu.Unlock()
			}
		}
	}()
	select {
	case <-done:
	case <-ctx.Done():
		select {
		case <-done: // finished at the wire
		default:
			mu.Lock()
			defer mu.Unlock()
			return errors.Join(append(errs, fmt.Errorf("cleanup %s: still running when the cleanup timeout ran out; abandoned", step))...)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	return errors.Join(errs...)
}

// wait waits for wg until ctx ends, and reports whether wg finished.
func wait(ctx context.Context, wg *sync.WaitGroup) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		select {
		case <-done:
			return true
		default:
			return false
		}
	}
}

func call(f func()) {
	if f != nil {
		f()
	}
}
