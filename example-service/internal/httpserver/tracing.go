package httpserver

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// tracerName is the instrumentation scope of the server spans.
const tracerName = "github.com/zerodrop/zerodrop/example-service/internal/httpserver"

// serverSpans gives every request a server span in the caller's trace
// (W3C trace context, through props), with the stable HTTP semantic
// conventions' name ("GET /orders/{id}") and attributes.
//
// It makes the spans that otelhttp.NewHandler makes, plus http.route
// (TestSpansMatchOtelhttp holds it to that), but not with otelhttp: otelhttp
// wraps each response writer with httpsnoop, whose 512 writer types, one for
// each combination of the nine optional interfaces it looks for, cost every
// binary 1.4 MiB and every pod about 0.5 MiB of memory, tracing on or off.
// The spans take the status and sizes from the writer that the metrics use
// (responseRecorder), so that a response is wrapped once.
type serverSpans struct {
	tracer trace.Tracer
	props  propagation.TextMapPropagator
}

func newServerSpans(tp trace.TracerProvider, props propagation.TextMapPropagator) *serverSpans {
	return &serverSpans{tracer: tp.Tracer(tracerName), props: props}
}

// serve serves r with next inside r's server span, and calls done with the
// request that next saw (its context holds the span) once next has
// returned, before the span ends.
func (s *serverSpans) serve(rec *responseRecorder, r *http.Request, next http.Handler, done func(*http.Request)) {
	ctx := s.props.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, span := s.tracer.Start(ctx, spanName(r), trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(requestAttributes(r)...))
	defer span.End()

	var body *countingBody
	if r.Body != nil && r.Body != http.NoBody {
		// The server looks at the body it made once the handler returns,
		// to decide whether the connection can be reused.
		body = &countingBody{ReadCloser: r.Body}
		defer func(orig io.ReadCloser) { r.Body = orig }(r.Body)
		r.Body = body
	}
	inner := r.WithContext(ctx)
	defer func() {
		// So that the server removes the temporary files that
		// ParseMultipartForm made, even when a handler panics.
		if inner.MultipartForm != nil {
			r.MultipartForm = inner.MultipartForm
		}
	}()
	next.ServeHTTP(rec, inner)
	done(inner)

	if inner.Pattern != "" {
		span.SetName(spanName(inner))
		if route := route(inner.Pattern); route != "" {
			span.SetAttributes(semconv.HTTPRoute(route))
		}
	}
	status := rec.finalStatus()
	span.SetStatus(spanStatus(status))
	if body != nil && body.n > 0 {
		span.SetAttributes(semconv.HTTPRequestBodySize(int(body.n)))
	}
	if rec.written > 0 {
		span.SetAttributes(semconv.HTTPResponseBodySize(int(rec.written)))
	}
	span.SetAttributes(semconv.HTTPResponseStatusCode(status))
}

// spanName is "{method} {route}", or the method alone before routing and for
// requests that no route matched, so that span names stay few whatever the
// paths. Methods the conventions do not know are "HTTP".
func spanName(r *http.Request) string {
	method := strings.ToUpper(r.Method)
	if _, known := methods[method]; !known {
		method = "HTTP"
	}
	if route := route(r.Pattern); route != "" {
		return method + " " + route
	}
	return method
}

// route is the path of a ServeMux pattern: "/orders/{id}" of
// "GET example.com/orders/{id}".
func route(pattern string) string {
	if i := strings.IndexByte(pattern, '/'); i >= 0 {
		return pattern[i:]
	}
	return ""
}

var methods = map[string]attribute.KeyValue{
	http.MethodConnect: semconv.HTTPRequestMethodConnect,
	http.MethodDelete:  semconv.HTTPRequestMethodDelete,
	http.MethodGet:     semconv.HTTPRequestMethodGet,
	http.MethodHead:    semconv.HTTPRequestMethodHead,
	http.MethodOptions: semconv.HTTPRequestMethodOptions,
	http.MethodPatch:   semconv.HTTPRequestMethodPatch,
	http.MethodPost:    semconv.HTTPRequestMethodPost,
	http.MethodPut:     semconv.HTTPRequestMethodPut,
	http.MethodTrace:   semconv.HTTPRequestMethodTrace,
}

// requestAttributes are the attributes known when the request arrives,
// given at the span's start so that a sampler can see them.
func requestAttributes(r *http.Request) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 12)
	host, port := splitHostPort(r.Host)
	scheme, defaultPort := "http", 80
	if r.TLS != nil {
		scheme, defaultPort = "https", 443
	}
	attrs = append(attrs, semconv.ServerAddress(host), semconv.URLScheme(scheme))
	if port > 0 && port != defaultPort {
		attrs = append(attrs, semconv.ServerPort(port))
	}

	switch method, known := methods[r.Method]; {
	case known:
		attrs = append(attrs, method)
	case r.Method == "":
		attrs = append(attrs, semconv.HTTPRequestMethodOther)
	default:
		if method, known = methods[strings.ToUpper(r.Method)]; !known {
			method = semconv.HTTPRequestMethodOther
		}
		attrs = append(attrs, method, semconv.HTTPRequestMethodOriginal(r.Method))
	}

	peer, peerPort := splitHostPort(r.RemoteAddr)
	if peer != "" {
		attrs = append(attrs, semconv.NetworkPeerAddress(peer))
		if peerPort > 0 {
			attrs = append(attrs, semconv.NetworkPeerPort(peerPort))
		}
	}
	// The first proxy's view of the client, when a proxy says so.
	client, _, _ := strings.Cut(r.Header.Get("X-Forwarded-For"), ",")
	if client == "" {
		client = peer
	}
	if client != "" {
		attrs = append(attrs, semconv.ClientAddress(client))
	}
	if ua := r.UserAgent(); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginal(ua))
	}
	if r.URL != nil && r.URL.Path != "" {
		attrs = append(attrs, semconv.URLPath(r.URL.Path))
	}
	name, version, _ := strings.Cut(r.Proto, "/")
	if name = strings.ToLower(name); name != "" && name != "http" {
		attrs = append(attrs, semconv.NetworkProtocolName(name))
	}
	if version != "" {
		attrs = append(attrs, semconv.NetworkProtocolVersion(version))
	}
	return attrs
}

// splitHostPort splits "host:port", "[v6]:port", "host" and "[v6]"; the port
// is -1 when there is none or it is not a number.
func splitHostPort(hostport string) (host string, port int) {
	if strings.HasPrefix(hostport, "[") {
		end := strings.LastIndexByte(hostport, ']')
		if end < 0 {
			return "", -1
		}
		if !strings.Contains(hostport[end:], ":") {
			return hostport[1:end], -1
		}
	} else if !strings.Contains(hostport, ":") {
		return hostport, -1
	}
	host, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return host, -1
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return host, -1
	}
	return host, int(n)
}

// spanStatus marks server errors, and only those: a 4xx is the client's
// mistake, not the server's.
func spanStatus(code int) (codes.Code, string) {
	switch {
	case code < 100 || code >= 600:
		return codes.Error, fmt.Sprintf("Invalid HTTP status code %d", code)
	case code >= 500:
		return codes.Error, ""
	}
	return codes.Unset, ""
}

// countingBody counts the bytes the handler reads of the request body.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}
