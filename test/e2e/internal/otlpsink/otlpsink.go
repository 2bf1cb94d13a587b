// Package otlpsink is the cluster proof's trace sink. Every pod of the
// traced scenario exports its spans to it over OTLP/gRPC, as it would to a
// collector, and the harness's own clients record theirs into it directly,
// so that a call's trace can be read whole: the harness's call, each
// attempt of it with the pod it reached, and the server span of every pod
// that served one. It is the OTLP TraceService from the OTLP protos, not a
// collector built from source, which would cost a cold CI minutes.
package otlpsink

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
)

// Span is what the report reads of a span. IDs are arrays and the strings
// are interned, so that a run's few hundred thousand spans cost the
// harness little memory, and its garbage collector little work while the
// load it measures goes on.
type Span struct {
	Trace  trace.TraceID  `json:"trace"`
	ID     trace.SpanID   `json:"id"`
	Parent trace.SpanID   `json:"parent"` // zero for a root
	Name   string         `json:"name"`
	Kind   trace.SpanKind `json:"kind"`
	// Service is the exporter's service.name; "" for the harness's own.
	Service string `json:"service,omitempty"`
	// Pod is the exporter's k8s.pod.name, from the downward API.
	Pod string `json:"pod,omitempty"`
	// Peer is an attempt's network.peer.address: the pod it reached.
	Peer  string    `json:"peer,omitempty"`
	Start time.Time `json:"start"`
}

// Sink keeps every span it is given, in arrival order.
type Sink struct {
	// Addr is where the OTLP/gRPC receiver listens.
	Addr string

	srv     *grpc.Server
	mu      sync.Mutex
	spans   []Span
	strings map[string]string
}

// Start serves OTLP/gRPC on addr (a host with port 0: the kernel picks the
// port, and Addr says which).
func Start(addr string) (*Sink, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("trace sink: %w", err)
	}
	s := &Sink{Addr: ln.Addr().String(), srv: grpc.NewServer(), strings: map[string]string{}}
	coltracepb.RegisterTraceServiceServer(s.srv, receiver{s: s})
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Close stops the receiver; exports still arriving fail.
func (s *Sink) Close() { s.srv.Stop() }

// Spans are the spans received so far.
func (s *Sink) Spans() []Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Span(nil), s.spans...)
}

// Len is how many spans were received so far.
func (s *Sink) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.spans)
}

func (s *Sink) add(spans ...Span) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sp := range spans {
		sp.Name, sp.Service, sp.Pod, sp.Peer = s.intern(sp.Name), s.intern(sp.Service), s.intern(sp.Pod), s.intern(sp.Peer)
		s.spans = append(s.spans, sp)
	}
}

// intern returns the one copy of v the sink keeps.
func (s *Sink) intern(v string) string {
	if v == "" {
		return ""
	}
	if kept, ok := s.strings[v]; ok {
		return kept
	}
	s.strings[v] = v
	return v
}

type receiver struct {
	coltracepb.UnimplementedTraceServiceServer
	s *Sink
}

func (r receiver) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	var got []Span
	for _, rs := range req.GetResourceSpans() {
		res := attrs(rs.GetResource().GetAttributes())
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				span := Span{
					Name:    sp.GetName(),
					Kind:    kinds[sp.GetKind()],
					Service: res["service.name"],
					Pod:     res["k8s.pod.name"],
					Peer:    attrs(sp.GetAttributes())["network.peer.address"],
					Start:   time.Unix(0, int64(sp.GetStartTimeUnixNano())),
				}
				copy(span.Trace[:], sp.GetTraceId())
				copy(span.ID[:], sp.GetSpanId())
				copy(span.Parent[:], sp.GetParentSpanId())
				got = append(got, span)
			}
		}
	}
	r.s.add(got...)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

var kinds = map[tracepb.Span_SpanKind]trace.SpanKind{
	tracepb.Span_SPAN_KIND_INTERNAL: trace.SpanKindInternal,
	tracepb.Span_SPAN_KIND_SERVER:   trace.SpanKindServer,
	tracepb.Span_SPAN_KIND_CLIENT:   trace.SpanKindClient,
	tracepb.Span_SPAN_KIND_PRODUCER: trace.SpanKindProducer,
	tracepb.Span_SPAN_KIND_CONSUMER: trace.SpanKindConsumer,
}

// attrs are the string attributes, by key.
func attrs(kvs []*commonpb.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		if v, ok := kv.GetValue().GetValue().(*commonpb.AnyValue_StringValue); ok {
			m[kv.GetKey()] = v.StringValue
		}
	}
	return m
}

// Processor records the harness's own spans as they end, in process: no
// batching and no export that could lose one. It keeps only spans with a
// parent, the attempts of a call: a request's own span says nothing its
// sample does not.
func (s *Sink) Processor() sdktrace.SpanProcessor { return processor{s} }

type processor struct{ s *Sink }

func (p processor) OnEnd(sp sdktrace.ReadOnlySpan) {
	if !sp.Parent().IsValid() {
		return
	}
	span := Span{
		Trace:  sp.SpanContext().TraceID(),
		ID:     sp.SpanContext().SpanID(),
		Parent: sp.Parent().SpanID(),
		Name:   sp.Name(),
		Kind:   sp.SpanKind(),
		Start:  sp.StartTime(),
	}
	for _, kv := range sp.Attributes() {
		if kv.Key == "network.peer.address" {
			span.Peer = kv.Value.AsString()
		}
	}
	p.s.add(span)
}

func (processor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (processor) Shutdown(context.Context) error                  { return nil }
func (processor) ForceFlush(context.Context) error                { return nil }
