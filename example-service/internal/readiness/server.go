package readiness

import (
	"net/http"
	"time"
)

// NewServer returns the health-port server: /livez, /readyz and /metrics. It
// is kept off the traffic ports, so that probes and scrapes never queue behind
// user traffic and the Service never exposes them.
func NewServer(state *State, metrics http.Handler) *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", state.Livez)
	mux.HandleFunc("GET /readyz", state.Readyz)
	mux.Handle("GET /metrics", metrics)
	return &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
}
