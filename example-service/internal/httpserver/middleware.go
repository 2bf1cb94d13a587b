package httpserver

import (
	"context"
	"log"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/golang/glog"
	"go.opentelemetry.io/otel/trace"

	"github.com/zerodrop/zerodrop/example-service/internal/metrics"
	"github.com/zerodrop/zerodrop/example-service/internal/readiness"
)

// instrument records every request in the metrics, by route, in the access
// log and, when spans is not nil, in a server span. It wraps the response
// writer once, for all of them, and ends outside everything else, so that
// the span's context is there for the metrics' exemplar and the log's
// trace_id, and a recovered panic counts as the 500 it became.
func instrument(routes *metrics.HTTPRoutes, spans *serverSpans, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &responseRecorder{ResponseWriter: w}
		observe := func(inner *http.Request) {
			code, elapsed := rec.finalStatus(), time.Since(start)
			routes.Observe(inner, code, elapsed)
			logRequest(inner, code, rec.written, elapsed)
		}
		if spans == nil {
			next.ServeHTTP(rec, r)
			observe(r)
			return
		}
		spans.serve(rec, r, next, observe)
	})
}

// recoverPanics turns a handler panic into a 500 and a log line with the stack,
// instead of a dropped connection. http.ErrAbortHandler keeps its meaning.
func recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				glog.Errorf("http: panic serving %s %s%s: %v\n%s", r.Method, r.URL.Path, traceField(r.Context()), p, debug.Stack())
				http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// traceField names the request's trace in a log line, when it is traced.
func traceField(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		return " trace_id=" + sc.TraceID().String()
	}
	return ""
}

// versionHeader puts the deployed version on every response, so that a client
// can see which version answered while a rollout is under way.
func versionHeader(v string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Version", v)
		next.ServeHTTP(w, r)
	})
}

// closeWhileDraining asks each keep-alive client to reconnect after its next
// response once shutdown has begun (an HTTP/2 client gets GOAWAY instead of
// the header, which HTTP/2 does not carry). Reconnecting goes through the updated
// Service routing to another replica, so by the time the listener closes no
// pooled connection is left to race a request against the close. Unlike
// http.Server.SetKeepAlivesEnabled(false), it does not cut idle connections
// at once.
func closeWhileDraining(state *readiness.State, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if state.Draining() {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody caps request bodies at MaxBodyBytes.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

// errorLog sends net/http's own errors (TLS handshakes, malformed requests,
// write failures) to glog.
func errorLog() *log.Logger {
	return log.New(glogWriter{}, "http: ", 0)
}

type glogWriter struct{}

func (glogWriter) Write(p []byte) (int, error) {
	glog.WarningDepth(4, string(p))
	return len(p), nil
}
