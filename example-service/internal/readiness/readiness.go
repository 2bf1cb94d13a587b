// Package readiness keeps the one readiness state that the HTTP probes and the
// gRPC health service both report, so that they can never disagree.
package readiness

import (
	"net/http"
	"sync/atomic"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// State is the service's readiness. It starts not ready; Ready marks it ready
// once the listeners are open, and Drain marks it not ready for good when
// shutdown begins. Liveness is separate: it stays true while the process works,
// including while it drains, because restarting a draining pod would drop the
// very requests the drain protects.
type State struct {
	ready    atomic.Bool
	draining atomic.Bool
	grpc     *health.Server
	services []string
}

// New returns a not-ready State that also drives grpc, the server's
// grpc.health.v1 implementation, for the overall service "" and for each named
// service.
func New(grpc *health.Server, services ...string) *State {
	s := &State{grpc: grpc, services: append([]string{""}, services...)}
	for _, name := range s.services {
		grpc.SetServingStatus(name, healthpb.HealthCheckResponse_NOT_SERVING)
	}
	return s
}

// Ready marks the service ready, unless it is already draining.
func (s *State) Ready() {
	if s.draining.Load() {
		return
	}
	s.ready.Store(true)
	for _, name := range s.services {
		s.grpc.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
}

// Drain fails readiness on HTTP and gRPC at once and for good. gRPC clients that
// watch health (the generated client does) stop picking this replica
// immediately, without waiting for DNS or kube-proxy.
func (s *State) Drain() {
	s.draining.Store(true)
	s.ready.Store(false)
	// Shutdown sets every service to NOT_SERVING and ignores later updates.
	s.grpc.Shutdown()
}

// Draining reports whether shutdown has begun.
func (s *State) Draining() bool { return s.draining.Load() }

// IsReady reports whether the service should receive traffic.
func (s *State) IsReady() bool { return s.ready.Load() }

// Livez answers 200 while the process can serve at all.
func (s *State) Livez(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// Readyz answers 200 when ready and 503 before that and while draining.
func (s *State) Readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	switch {
	case s.draining.Load():
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("draining\n"))
	case !s.ready.Load():
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("starting\n"))
	default:
		_, _ = w.Write([]byte("ok\n"))
	}
}
