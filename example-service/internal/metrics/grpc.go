package metrics

import (
	"context"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/reflection"
)

// GRPCServer records the gRPC server series of go-grpc-middleware's
// Prometheus provider, configured as this service would configure it (the
// handling-time histogram on, default buckets): the same names, help texts,
// labels and buckets, the same values for the same calls, and the same series
// created up front by InitializeMetrics, so that dashboards and alerts
// written for the provider read them unchanged. A test holds the two equal.
//
// It reports through go-grpc-middleware's interceptors package, as the
// provider does. What differs is the cost: the provider resolves each of a
// call's five series from its label values and allocates seven times a call,
// which under load was most of what this server's gRPC stack cost over a
// bare grpc-go server; GRPCServer resolves every registered
// method's series once, in InitializeMetrics, and a call only finds them.
type GRPCServer struct {
	started, handled, received, sent *prometheus.CounterVec
	handling                         *prometheus.HistogramVec

	// methods holds the series of every method InitializeMetrics saw. Calls
	// only read it; InitializeMetrics replaces it, under mu.
	methods atomic.Pointer[map[methodKey]*methodSeries]
	mu      sync.Mutex
}

// methodKey is the label values that name a method.
type methodKey struct {
	typ             interceptors.GRPCType
	service, method string
}

// methodSeries is one method's series, resolved; it is the method's
// interceptors.Reporter, and holds no per-call state, so every call to the
// method shares it.
type methodSeries struct {
	started, received, sent prometheus.Counter
	handling                prometheus.Observer
	// handled is indexed by code; a code beyond it is resolved per call.
	handled [codes.Unauthenticated + 1]prometheus.Counter
	vecs    *GRPCServer
	key     methodKey
}

// NewGRPCServer returns the collectors, to be registered like any other.
func NewGRPCServer() *GRPCServer {
	labels := []string{"grpc_type", "grpc_service", "grpc_method"}
	counter := func(name, help string, names ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, names)
	}
	g := &GRPCServer{
		started: counter("grpc_server_started_total", "Total number of RPCs started on the server.", labels...),
		handled: counter("grpc_server_handled_total", "Total number of RPCs completed on the server, regardless of success or failure.",
			append(labels[:len(labels):len(labels)], "grpc_code")...),
		received: counter("grpc_server_msg_received_total", "Total number of RPC stream messages received on the server.", labels...),
		sent:     counter("grpc_server_msg_sent_total", "Total number of gRPC stream messages sent by the server.", labels...),
		handling: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "grpc_server_handling_seconds",
			Help:    "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
			Buckets: prometheus.DefBuckets,
		}, labels),
	}
	g.methods.Store(&map[methodKey]*methodSeries{})
	return g
}

// Describe implements prometheus.Collector.
func (g *GRPCServer) Describe(ch chan<- *prometheus.Desc) {
	g.started.Describe(ch)
	g.handled.Describe(ch)
	g.received.Describe(ch)
	g.sent.Describe(ch)
	g.handling.Describe(ch)
}

// Collect implements prometheus.Collector.
func (g *GRPCServer) Collect(ch chan<- prometheus.Metric) {
	g.started.Collect(ch)
	g.handled.Collect(ch)
	g.received.Collect(ch)
	g.sent.Collect(ch)
	g.handling.Collect(ch)
}

// InitializeMetrics creates every series, at zero, of every method
// registered on server, as the provider's InitializeMetrics does, and
// resolves them for the interceptors. Call it once every service is
// registered: a method registered later is still counted, at the provider's
// cost per call.
func (g *GRPCServer) InitializeMetrics(server reflection.ServiceInfoProvider) {
	g.mu.Lock()
	defer g.mu.Unlock()
	methods := maps.Clone(*g.methods.Load())
	for service, info := range server.GetServiceInfo() {
		for _, m := range info.Methods {
			key := methodKey{typ: methodType(m), service: service, method: m.Name}
			s := &methodSeries{
				started:  g.started.WithLabelValues(string(key.typ), service, m.Name),
				received: g.received.WithLabelValues(string(key.typ), service, m.Name),
				sent:     g.sent.WithLabelValues(string(key.typ), service, m.Name),
				handling: g.handling.WithLabelValues(string(key.typ), service, m.Name),
				vecs:     g,
				key:      key,
			}
			// The provider's list of codes, so that the same series exist.
			for _, code := range interceptors.AllCodes {
				c := g.handled.WithLabelValues(string(key.typ), service, m.Name, code.String())
				if int(code) < len(s.handled) {
					s.handled[code] = c
				}
			}
			methods[key] = s
		}
	}
	g.methods.Store(&methods)
}

// methodType is the provider's grpc_type of a registered method.
func methodType(m grpc.MethodInfo) interceptors.GRPCType {
	switch {
	case !m.IsClientStream && !m.IsServerStream:
		return interceptors.Unary
	case m.IsClientStream && !m.IsServerStream:
		return interceptors.ClientStream
	case !m.IsClientStream && m.IsServerStream:
		return interceptors.ServerStream
	default:
		return interceptors.BidiStream
	}
}

// UnaryServerInterceptor records unary calls.
func (g *GRPCServer) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return interceptors.UnaryServerInterceptor(g)
}

// StreamServerInterceptor records streams and their messages.
func (g *GRPCServer) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return interceptors.StreamServerInterceptor(g)
}

// ServerReporter implements interceptors.ServerReportable: it counts the
// call as started and returns the method's series as its reporter.
func (g *GRPCServer) ServerReporter(ctx context.Context, meta interceptors.CallMeta) (interceptors.Reporter, context.Context) {
	key := methodKey{typ: meta.Typ, service: meta.Service, method: meta.Method}
	s := (*g.methods.Load())[key]
	if s == nil {
		// Not seen by InitializeMetrics: create only the series the call
		// touches, as the provider would.
		r := &lazySeries{vecs: g, key: key}
		g.started.WithLabelValues(r.labels()...).Inc()
		return r, ctx
	}
	s.started.Inc()
	if id, ok := sampledTrace(ctx); ok {
		return traced{methodSeries: s, traceID: id}, ctx
	}
	return s, ctx
}

// traced reports a call whose trace is sampled: its duration carries the
// trace's ID as an exemplar, so that a latency bucket leads to a trace.
type traced struct {
	*methodSeries
	traceID string
}

// PostCall counts the call as handled with its code and observes its
// duration.
func (s *methodSeries) PostCall(err error, d time.Duration) {
	s.count(err)
	s.handling.Observe(d.Seconds())
}

// count counts the call as handled with its code.
func (s *methodSeries) count(err error) {
	code := grpcprom.FromError(err).Code()
	if int(code) < len(s.handled) && s.handled[code] != nil {
		s.handled[code].Inc()
	} else {
		s.vecs.handled.WithLabelValues(string(s.key.typ), s.key.service, s.key.method, code.String()).Inc()
	}
}

// PostCall is methodSeries.PostCall with the exemplar.
func (t traced) PostCall(err error, d time.Duration) {
	t.count(err)
	observe(t.handling, d, t.traceID)
}

// PostMsgSend counts a message sent.
func (s *methodSeries) PostMsgSend(_ any, err error, _ time.Duration) {
	if err == nil {
		s.sent.Inc()
	}
}

// PostMsgReceive counts a message received.
func (s *methodSeries) PostMsgReceive(_ any, err error, _ time.Duration) {
	if err == nil {
		s.received.Inc()
	}
}

// lazySeries reports a call to a method InitializeMetrics did not see,
// resolving each series when it is touched.
type lazySeries struct {
	vecs *GRPCServer
	key  methodKey
}

func (r *lazySeries) labels() []string {
	return []string{string(r.key.typ), r.key.service, r.key.method}
}

func (r *lazySeries) PostCall(err error, d time.Duration) {
	code := grpcprom.FromError(err).Code()
	r.vecs.handled.WithLabelValues(append(r.labels(), code.String())...).Inc()
	r.vecs.handling.WithLabelValues(r.labels()...).Observe(d.Seconds())
}

func (r *lazySeries) PostMsgSend(_ any, err error, _ time.Duration) {
	if err == nil {
		r.vecs.sent.WithLabelValues(r.labels()...).Inc()
	}
}

func (r *lazySeries) PostMsgReceive(_ any, err error, _ time.Duration) {
	if err == nil {
		r.vecs.received.WithLabelValues(r.labels()...).Inc()
	}
}
