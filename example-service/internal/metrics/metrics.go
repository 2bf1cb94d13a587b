// Package metrics owns the service's Prometheus registry. It uses its own
// registry rather than the global one, so that tests and embedders never see
// metrics registered twice.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"

	"github.com/zerodrop/zerodrop/example-service/internal/version"
)

// Metrics holds the collectors that the servers record into.
type Metrics struct {
	Registry *prometheus.Registry
	GRPC     *GRPCServer

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	hardStops    *prometheus.CounterVec
}

// New registers the Go runtime, process, build-info, HTTP and gRPC collectors.
func New(info version.Info) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		GRPC:     NewGRPCServer(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests served, by handler, method and status code.",
		}, []string{"handler", "method", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "Time to serve HTTP requests, by handler and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"handler", "method"}),
		hardStops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "example_service_shutdown_hard_stops_total",
			Help: "Servers closed hard at shutdown, by server: their time (the shutdown timeout, or for the health server the cleanup timeout) ran out while they still had requests or streams in flight.",
		}, []string{"server"}),
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "example_service_build_info",
		Help: "Always 1; its labels say which version, revision and Go version are running.",
		ConstLabels: prometheus.Labels{
			"version":   info.Version,
			"revision":  info.Revision,
			"goversion": info.GoVersion,
		},
	})
	buildInfo.Set(1)
	m.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo, m.GRPC, m.httpRequests, m.httpDuration, m.hardStops,
	)
	return m
}

// HardStop counts a server closed hard at shutdown. A scrape in the seconds
// before the process exits sees it; the termination message (see run.go)
// keeps it for the pod's status too.
func (m *Metrics) HardStop(server string) { m.hardStops.WithLabelValues(server).Inc() }

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	// OpenMetrics, when the scraper asks for it, carries the exemplars.
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry, EnableOpenMetrics: true})
}

// HTTPRoutes counts and times one HTTP server's requests, labelled with the
// name of the route that served them, and the mux's own 404s and 405s as
// handler "unmatched". The server's middleware observes each request once
// it is answered, with the status its response writer recorded: the
// writer that its tracing uses too, so that a request's writer is wrapped
// once, whatever records it.
type HTTPRoutes struct {
	m         *Metrics
	byPattern map[string]routeMetrics
	unmatched routeMetrics
}

// routeMetrics are the collectors curried with one route's name: one
// lookup a request where promhttp's InstrumentHandlerCounter and
// InstrumentHandlerDuration build a label map each; under load that was
// half of the HTTP middleware's CPU time.
type routeMetrics struct {
	requests *prometheus.CounterVec
	duration prometheus.ObserverVec
}

// HTTPRoutes returns the instrumentation for one server. Name every route
// with Route before the server starts.
func (m *Metrics) HTTPRoutes() *HTTPRoutes {
	return &HTTPRoutes{m: m, byPattern: map[string]routeMetrics{}, unmatched: m.route("unmatched")}
}

func (m *Metrics) route(name string) routeMetrics {
	return routeMetrics{
		requests: m.httpRequests.MustCurryWith(prometheus.Labels{"handler": name}),
		duration: m.httpDuration.MustCurryWith(prometheus.Labels{"handler": name}),
	}
}

// Route names the requests that the mux serves with pattern.
func (r *HTTPRoutes) Route(pattern, name string) { r.byPattern[pattern] = r.m.route(name) }

// Observe counts and times a request answered with code after elapsed, by
// the pattern that http.ServeMux matched (Request.Pattern, so req must be
// the request the mux saw, not a copy made before it), with the label
// values promhttp uses (lower-case method, numeric code). A sampled trace
// in req's context becomes the duration's exemplar.
func (r *HTTPRoutes) Observe(req *http.Request, code int, elapsed time.Duration) {
	rm, ok := r.byPattern[req.Pattern]
	if !ok {
		rm = r.unmatched
	}
	method := methodLabel(req.Method)
	id, _ := sampledTrace(req.Context())
	observe(rm.duration.WithLabelValues(method), elapsed, id)
	rm.requests.WithLabelValues(method, strconv.Itoa(code)).Inc()
}

// methodLabel is promhttp's method label: the common methods lower-cased
// without allocating, anything else as "unknown", which bounds the label's
// cardinality.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet:
		return "get"
	case http.MethodHead:
		return "head"
	case http.MethodPost:
		return "post"
	case http.MethodPut:
		return "put"
	case http.MethodDelete:
		return "delete"
	case http.MethodPatch:
		return "patch"
	case http.MethodOptions:
		return "options"
	case http.MethodConnect:
		return "connect"
	case http.MethodTrace:
		return "trace"
	case "NOTIFY":
		return "notify"
	default:
		return "unknown"
	}
}

// sampledTrace is the ID of ctx's trace, when it is sampled: an exemplar
// pointing at a trace the backend never received would lead nowhere.
func sampledTrace(ctx context.Context) (string, bool) {
	if sc := trace.SpanContextFromContext(ctx); sc.IsSampled() {
		return sc.TraceID().String(), true
	}
	return "", false
}

// observe records d, with the trace as its exemplar when there is one.
func observe(o prometheus.Observer, d time.Duration, traceID string) {
	if eo, ok := o.(prometheus.ExemplarObserver); ok && traceID != "" {
		eo.ObserveWithExemplar(d.Seconds(), prometheus.Labels{"trace_id": traceID})
		return
	}
	o.Observe(d.Seconds())
}
