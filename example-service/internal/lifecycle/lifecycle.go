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
//     When S expires, Close and Stop end whatever remains, including streams
//     and handlers that ignore their context. Plan.HardStop hears of each
//     server so closed: the service counts it in a metric and reports it in
//     the pod's termination message, since the exit status does not.
//  5. Cleanup runs in the order given (dependency order: the health and
//     metrics server last among servers, then clients and pools), bounded by
//     the cleanup timeout F (--cleanup-timeout).
//  6. Run returns nil and the process exits 0. A second signal at any point
//     exits at once with a non-zero status (see SignalContext).
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
	// Close stops at once, cutting connections and streams.
	Close func() error
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
	// keep answering through the drain; stop them in Cleanup.
	Admin []Server

	// Ready is called once every server is serving.
	Ready func()
	// Drain fails readiness (phase 2).
	Drain func()
	// Stopping is called as phase 4 begins, to tell long-lived handlers to end.
	Stopping func()
	// HardStop is called with a server's name when S ran out before it had
	// stopped, just before it is closed hard: requests or streams it still
	// had were cut. Count it; the process still exits 0, because the bound
	// did its job, so nothing else would show that it happened.
	HardStop func(server string)
	// Cleanup runs in order in phase 5.
	Cleanup []Cleanup
}

// Run serves until ctx is cancelled, then shuts down as the package
// documentation describes. It returns an error if a server fails or a phase
// overruns its budget; the process should then exit non-zero.
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
	errs := []error{serveErr, stopServers(sctx, p.Servers, p.HardStop)}
	cancelStop()
	glog.Infof("shutdown: servers stopped after %s", elapsed())

	// Phase 5.
	cctx, cancel := context.WithTimeout(context.Background(), p.CleanupTimeout)
	defer cancel()
	adminStop := func(ctx context.Context) error { return stopServers(ctx, p.Admin, p.HardStop) }
	admin := Cleanup{Name: "admin servers", Run: adminStop}
	steps := append([]Cleanup{admin}, p.Cleanup...)
	for _, c := range steps {
		if err := c.Run(cctx); err != nil {
			errs = append(errs, fmt.Errorf("cleanup %s: %w", c.Name, err))
		}
	}
	serving.Wait()
	glog.Infof("shutdown: complete after %s", elapsed())
	return errors.Join(errs...)
}

// stopServers shuts servers down concurrently until ctx ends, then closes
// whatever is still running. A server that needed the hard stop is reported
// in the log, not as an error: bounding it is the point of the timeout.
func stopServers(ctx context.Context, servers []Server, hardStop func(string)) error {
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
			glog.Warningf("shutdown: %s server still busy when its time ran out; closing it hard", s.Name)
			if hardStop != nil {
				hardStop(s.Name)
			}
			if err := s.Close(); err != nil {
				errs[i] = errors.Join(errs[i], fmt.Errorf("close %s server: %w", s.Name, err))
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func call(f func()) {
	if f != nil {
		f()
	}
}
