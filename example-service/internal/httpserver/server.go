// Package httpserver is example-service's HTTP server: the middleware and the
// http.Server settings that keep it safe under load and during shutdown,
// whatever routes it serves.
package httpserver

import (
	"context"
	"net"
	"net/http"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/zerodrop/zerodrop/example-service/internal/metrics"
	"github.com/zerodrop/zerodrop/example-service/internal/readiness"
	"github.com/zerodrop/zerodrop/example-service/internal/version"
)

// Limits that protect the server from slow or oversized clients.
const (
	// ReadHeaderTimeout stops Slowloris-style clients from holding connections.
	ReadHeaderTimeout = 5 * time.Second
	// ReadTimeout bounds reading a whole request, body included (on HTTP/2,
	// each stream's body), so that a client trickling a body one byte at a
	// time cannot hold a connection, and with it a graceful shutdown, for
	// ever. At MaxBodyBytes it asks for 100 KiB/s, a slow link's speed.
	ReadTimeout = 10 * time.Second
	// IdleTimeout closes idle keep-alive connections; it stays above the
	// typical client pool timeout so that clients, not the server, usually
	// close first and never race a request against the close.
	IdleTimeout = 120 * time.Second
	// MaxHeaderBytes bounds request headers.
	MaxHeaderBytes = 64 << 10
	// MaxBodyBytes bounds request bodies.
	MaxBodyBytes = 1 << 20
)

// Deps are what the server needs.
type Deps struct {
	Info    version.Info
	Health  *readiness.State
	Metrics *metrics.Metrics
	// Routes are the API's, served beside the runtime's GET /version.
	Routes []Route
	// Tracing gives every request a server span (see serverSpans).
	Tracing bool
}

// Route is one route of the API.
type Route struct {
	// Pattern is an http.ServeMux pattern, such as "GET /orders/{id}".
	Pattern string
	// Name labels the route's metrics: a short, fixed name, such as
	// "get_order", so that the series stay few whatever the paths.
	Name    string
	Handler http.Handler
}

// New returns the API server. Request contexts derive from base, so that
// cancelling base reaches every in-flight handler in the hard-stop phase;
// Shutdown alone does not cancel them.
//
// It speaks HTTP/1.1 and, on the same port, HTTP/2 without TLS (h2c with
// prior knowledge), which is what service meshes, ingress controllers and
// gRPC-style clients use inside a cluster. An HTTP/2 client keeps one
// connection for ever, so draining must move it: the Connection: close that
// the drain middleware sets makes the server send GOAWAY instead, and the
// client's next request opens a new connection through the updated routing.
func New(base context.Context, deps Deps) *http.Server {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	return &http.Server{
		Handler:           Handler(deps),
		Protocols:         &protocols,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		BaseContext:       func(_ net.Listener) context.Context { return base },
		ErrorLog:          errorLog(),
	}
}

// Handler maps every route and wraps them in the middleware, outermost first:
// metrics and tracing (when on), recovery, version header, drain, body limit.
func Handler(deps Deps) http.Handler {
	mux := http.NewServeMux()
	routes := deps.Metrics.HTTPRoutes()
	route := func(pattern, name string, h http.Handler) {
		mux.Handle(pattern, h)
		routes.Route(pattern, name)
	}
	for _, r := range deps.Routes {
		route(r.Pattern, r.Name, r.Handler)
	}
	route("GET /version", "version", versionHandler(deps.Info))
	var h http.Handler = mux
	h = limitBody(h)
	h = closeWhileDraining(deps.Health, h)
	h = versionHeader(deps.Info.Version, h)
	h = recoverPanics(h)
	var spans *serverSpans
	if deps.Tracing {
		spans = newServerSpans(otel.GetTracerProvider(), otel.GetTextMapPropagator())
	}
	return instrument(routes, spans, h)
}
