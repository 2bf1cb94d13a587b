package httpserver

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/zerodrop/zerodrop/example-service/internal/metrics"
	"github.com/zerodrop/zerodrop/example-service/internal/version"
)

// TestSpansMatchOtelhttp: for every kind of request, over HTTP/1.1 and h2c,
// the server's instrumentation makes the server span that
// otelhttp.NewHandler makes of it: the same name, kind, parent, status and
// attributes, plus http.route, which otelhttp leaves out when it wraps a
// ServeMux. The handlers use what the response writer may offer (Flusher,
// Hijacker, 1xx headers, ResponseController through Unwrap) and answer the
// same from both. The one place where the spans differ on purpose: a body
// sent with io.Copy (sendfile, as http.ServeContent does) is counted, where
// otelhttp does not see it. The same writer records the metrics: each
// request counts once, under its route and the final status its client got.
func TestSpansMatchOtelhttp(t *testing.T) {
	props := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	m := metrics.New(version.Info{})
	named := m.HTTPRoutes()
	mux := http.NewServeMux()
	for _, r := range testRoutes() {
		mux.Handle(r.Pattern, r.Handler)
		named.Route(r.Pattern, r.Name)
	}
	ours, theirs := tracetest.NewSpanRecorder(), tracetest.NewSpanRecorder()
	oursURL, oursDone := serveTraced(t, instrument(named, newServerSpans(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(ours)), props), mux))
	theirsURL, theirsDone := serveTraced(t, otelhttp.NewHandler(mux, "http",
		otelhttp.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(theirs))), otelhttp.WithPropagators(props)))
	caller := sdktrace.NewTracerProvider().Tracer("test")

	tests := []struct {
		method, path, body string
		header             http.Header
		h1Only             bool
		// onlyOurs are attributes that only our spans have, over HTTP/1.1.
		onlyOurs map[string]string
		// handler and methodLabel are the request's labels in the
		// metrics; methodLabel defaults to the method in lower case.
		handler, methodLabel string
	}{
		{method: "GET", path: "/items/7", header: http.Header{"User-Agent": {"test/1"}}, handler: "item"},
		{method: "POST", path: "/upload", body: strings.Repeat("x", 3000), handler: "upload"},
		{method: "GET", path: "/any/thing", header: http.Header{"X-Forwarded-For": {"203.0.113.9, 10.0.0.1"}}, handler: "any"},
		{method: "GET", path: "/nope", handler: "unmatched"},
		{method: "PURGE", path: "/items/7", handler: "unmatched", methodLabel: "unknown"},
		{method: "get", path: "/items/7", handler: "unmatched", methodLabel: "unknown"},
		{method: "GET", path: "/early", handler: "early"},
		{method: "GET", path: "/stream", handler: "stream"},
		{method: "GET", path: "/hijack", h1Only: true, handler: "hijack"},
		{method: "GET", path: "/file", onlyOurs: map[string]string{"http.response.body.size": fmt.Sprint(len(testFile))}, handler: "file"},
	}
	counted := map[string]int{} // "code handler method" of the answers our server gave
	for _, proto := range []string{"HTTP/1.1", "h2c"} {
		client := testClient(t, proto == "h2c")
		for _, tt := range tests {
			if tt.h1Only && proto == "h2c" {
				continue
			}
			t.Run(proto+" "+tt.method+" "+tt.path, func(t *testing.T) {
				ctx, span := caller.Start(t.Context(), "caller")
				span.End()
				do := func(base string, done chan struct{}, rec *tracetest.SpanRecorder) (sdktrace.ReadOnlySpan, string) {
					t.Helper()
					req, err := http.NewRequestWithContext(ctx, tt.method, base+tt.path, strings.NewReader(tt.body))
					if err != nil {
						t.Fatal(err)
					}
					maps.Copy(req.Header, tt.header)
					props.Inject(ctx, propagation.HeaderCarrier(req.Header))
					resp, err := client.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					got, err := io.ReadAll(resp.Body)
					_ = resp.Body.Close()
					if err != nil {
						t.Fatal(err)
					}
					select {
					case <-done:
					case <-time.After(10 * time.Second):
						t.Fatal("the handler did not return")
					}
					ended := rec.Ended()
					if len(ended) == 0 {
						t.Fatal("no span")
					}
					return ended[len(ended)-1], fmt.Sprintf("%d %s", resp.StatusCode, got)
				}
				o, oursGot := do(oursURL, oursDone, ours)
				th, theirsGot := do(theirsURL, theirsDone, theirs)
				if oursGot != theirsGot {
					t.Fatalf("our server answered %q, otelhttp's %q", oursGot, theirsGot)
				}
				method := tt.methodLabel
				if method == "" {
					method = strings.ToLower(tt.method)
				}
				counted[fmt.Sprintf("code=%q,handler=%q,method=%q", strings.Fields(oursGot)[0], tt.handler, method)]++
				if o.Name() != th.Name() || o.SpanKind() != th.SpanKind() || o.Status() != th.Status() {
					t.Errorf("span %q %v %+v, otelhttp's %q %v %+v", o.Name(), o.SpanKind(), o.Status(), th.Name(), th.SpanKind(), th.Status())
				}
				if o.Parent().SpanID() != span.SpanContext().SpanID() || o.SpanContext().TraceID() != span.SpanContext().TraceID() {
					t.Errorf("span not on the caller's: parent %v in trace %v, want %v in %v", o.Parent().SpanID(), o.SpanContext().TraceID(), span.SpanContext().SpanID(), span.SpanContext().TraceID())
				}
				oa, ta := attrs(o.Attributes()), attrs(th.Attributes())
				if route, ok := oa["http.route"]; ok && ta["http.route"] == "" {
					if want := strings.TrimPrefix(o.Name(), strings.Fields(o.Name())[0]+" "); route != want {
						t.Errorf("http.route = %q, span name %q", route, o.Name())
					}
					delete(oa, "http.route")
				}
				if proto == "HTTP/1.1" {
					for k, v := range tt.onlyOurs {
						if oa[k] != v || ta[k] != "" {
							t.Errorf("%s = %q (otelhttp %q), want %q (and none)", k, oa[k], ta[k], v)
						}
						delete(oa, k)
					}
				}
				if !maps.Equal(oa, ta) {
					t.Errorf("attributes differ from otelhttp's:\n ours   %v\n theirs %v", oa, ta)
				}
			})
		}
	}
	checkRequestCounts(t, m, counted)
}

// testFile is what GET /file of testRoutes serves.
const testFile = "0123456789abcdef"

// testRoutes answer the same whoever traces them; a handler that misses
// something of the response writer says so in a 500.
func testRoutes() []Route {
	return []Route{
		{Pattern: "GET /items/{id}", Name: "item", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, "item "+r.PathValue("id"))
		})},
		{Pattern: "POST /upload", Name: "upload", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			http.Error(w, fmt.Sprintf("stored nothing of %d bytes", len(b)), http.StatusInternalServerError)
		})},
		{Pattern: "/any/", Name: "any", Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "any") })},
		{Pattern: "GET /early", Name: "early", Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusAccepted)
		})},
		{Pattern: "GET /stream", Name: "stream", Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			f, ok := w.(http.Flusher)
			if !ok {
				http.Error(w, "no http.Flusher", http.StatusInternalServerError)
				return
			}
			if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
				http.Error(w, "ResponseController: "+err.Error(), http.StatusInternalServerError)
				return
			}
			_, _ = io.WriteString(w, "one ")
			f.Flush()
			_, _ = io.WriteString(w, "two")
		})},
		{Pattern: "GET /hijack", Name: "hijack", Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			h, ok := w.(http.Hijacker)
			if !ok {
				http.Error(w, "no http.Hijacker", http.StatusInternalServerError)
				return
			}
			conn, buf, err := h.Hijack()
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			defer conn.Close()
			_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
			_ = buf.Flush()
		})},
		{Pattern: "GET /file", Name: "file", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.ServeContent(w, r, "f.txt", time.Time{}, bytes.NewReader([]byte(testFile)))
		})},
	}
}

// checkRequestCounts fails t unless http_requests_total holds exactly
// counted: each series ("code=..,handler=..,method=..") with its count.
func checkRequestCounts(t *testing.T, m *metrics.Metrics, counted map[string]int) {
	t.Helper()
	want := "# HELP http_requests_total HTTP requests served, by handler, method and status code.\n# TYPE http_requests_total counter\n"
	for series, n := range counted {
		want += fmt.Sprintf("http_requests_total{%s} %d\n", series, n)
	}
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(want), "http_requests_total"); err != nil {
		t.Errorf("the metrics did not count each answer once, by its final status: %v", err)
	}
}

// serveTraced serves h on loopback over HTTP/1.1 and h2c, and signals done
// each time h has returned, when its span has ended.
func serveTraced(t *testing.T, h http.Handler) (string, chan struct{}) {
	t.Helper()
	done := make(chan struct{}, 1)
	return serveH2C(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { done <- struct{}{} }()
		h.ServeHTTP(w, r)
	})), done
}

// serveH2C serves h on loopback over HTTP/1.1 and h2c.
func serveH2C(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv.Config.Protocols = &protocols
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

func testClient(t *testing.T, h2c bool) *http.Client {
	var protocols http.Protocols
	if h2c {
		protocols.SetUnencryptedHTTP2(true)
	} else {
		protocols.SetHTTP1(true)
	}
	tr := &http.Transport{Protocols: &protocols}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// attrs are a span's attributes, with the ports, which differ between two
// servers and two connections, as "port".
func attrs(kvs []attribute.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.Emit()
		if kv.Key == "server.port" || kv.Key == "network.peer.port" {
			m[string(kv.Key)] = "port"
		}
	}
	return m
}

// TestRecorderStatus: the status a span records is the final one the
// handler sent: 200 when it only writes, and not a 1xx before the final
// header.
func TestRecorderStatus(t *testing.T) {
	for _, tt := range []struct {
		name  string
		serve func(w http.ResponseWriter)
		want  int
	}{
		{"write only", func(w http.ResponseWriter) { _, _ = io.WriteString(w, "x") }, 200},
		{"nothing", func(http.ResponseWriter) {}, 0},
		{"early hints, then 404", func(w http.ResponseWriter) { w.WriteHeader(103); w.WriteHeader(404) }, 404},
		{"101", func(w http.ResponseWriter) { w.WriteHeader(101) }, 101},
		{"flush", func(w http.ResponseWriter) { w.(http.Flusher).Flush(); w.WriteHeader(500) }, 200},
		{"read from", func(w http.ResponseWriter) { _, _ = w.(io.ReaderFrom).ReadFrom(strings.NewReader("abc")) }, 200},
		{"write string", func(w http.ResponseWriter) { _, _ = io.WriteString(w, "abc"); w.WriteHeader(500) }, 200},
	} {
		rec := &responseRecorder{ResponseWriter: httptest.NewRecorder()}
		tt.serve(rec)
		if rec.status != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, rec.status, tt.want)
		}
	}
}
