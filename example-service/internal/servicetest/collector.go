package servicetest

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// Collector receives traces as an OpenTelemetry collector does: the OTLP
// gRPC TraceService on GRPCAddr and OTLP/HTTP (protobuf) on HTTPAddr's
// /v1/traces, each on a loopback port the kernel picks. It keeps every span,
// so that a test can follow a trace across the processes it started.
type Collector struct {
	GRPCAddr, HTTPAddr string

	mu    sync.Mutex
	spans []Span
}

// Span is a span with the service.name of the process that sent it.
type Span struct {
	Service string
	*tracepb.Span
}

// StartCollector starts a Collector, stopped when the test ends.
func StartCollector(t testing.TB) *Collector {
	t.Helper()
	c := &Collector{}
	gln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.GRPCAddr, c.HTTPAddr = gln.Addr().String(), hln.Addr().String()
	gs := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(gs, traceService{c: c})
	go func() { _ = gs.Serve(gln) }()
	hs := &http.Server{Handler: http.HandlerFunc(c.serveHTTP)}
	go func() { _ = hs.Serve(hln) }()
	t.Cleanup(func() {
		gs.Stop()
		_ = hs.Close()
	})
	return c
}

// Spans are the spans received so far.
func (c *Collector) Spans() []Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Span(nil), c.spans...)
}

func (c *Collector) add(req *coltracepb.ExportTraceServiceRequest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				service = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				c.spans = append(c.spans, Span{Service: service, Span: s})
			}
		}
	}
}

type traceService struct {
	coltracepb.UnimplementedTraceServiceServer
	c *Collector
}

func (s traceService) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	s.c.add(req)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// serveHTTP is OTLP/HTTP's trace endpoint, for the protobuf encoding.
func (c *Collector) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		http.NotFound(w, r)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		http.Error(w, "Content-Type "+ct+": only application/x-protobuf", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(body, &req)
	}
	if err != nil {
		http.Error(w, errors.Join(errors.New("bad export request"), err).Error(), http.StatusBadRequest)
		return
	}
	c.add(&req)
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}
