package httpserver

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang/glog"
	"go.opentelemetry.io/otel/trace"
)

// logRequest is the HTTP access log, with the gRPC one's policy
// (internal/grpcserver/logging.go): an answered request is logged at -v=1,
// a client error (4xx) as a warning and a server error (5xx) as an error at
// any verbosity, so that every failure is logged and a success costs
// nothing by default. The verbosity is checked before the line is built.
// The health port is not the API's server, so probes and scrapes stay out.
func logRequest(r *http.Request, code int, written int64, elapsed time.Duration) {
	var log func(depth int, args ...any)
	switch {
	case code >= 500:
		log = glog.ErrorDepth
	case code >= 400:
		log = glog.WarningDepth
	default:
		v := glog.V(1)
		if !v {
			return
		}
		log = v.InfoDepth
	}
	log(0, requestLine(r, code, written, elapsed))
}

// requestLine names the request as the gRPC access log names a call, with
// the trace when there is one. The path is the escaped one, so that no
// request can write a line of its own into the log.
func requestLine(r *http.Request, code int, written int64, elapsed time.Duration) string {
	var b strings.Builder
	b.WriteString("finished request http.method=")
	b.WriteString(r.Method) // a token: the server refuses any other
	if route := route(r.Pattern); route != "" {
		b.WriteString(" http.route=")
		b.WriteString(route)
	}
	b.WriteString(" http.path=")
	b.WriteString(r.URL.EscapedPath())
	b.WriteString(" http.code=")
	b.WriteString(strconv.Itoa(code))
	b.WriteString(" http.time_ms=")
	b.WriteString(strconv.FormatFloat(float64(elapsed.Microseconds())/1000, 'f', 3, 64))
	b.WriteString(" http.response_bytes=")
	b.WriteString(strconv.FormatInt(written, 10))
	b.WriteString(" peer.address=")
	b.WriteString(r.RemoteAddr)
	if sc := trace.SpanContextFromContext(r.Context()); sc.IsValid() {
		b.WriteString(" trace_id=")
		b.WriteString(sc.TraceID().String())
	}
	return b.String()
}
