package metrics

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/zerodrop/zerodrop/example-service/internal/version"
)

// TestHTTPRoutesObserve: a request counts under the name of the route the
// mux matched, with promhttp's method and code labels; one the mux matched
// to no named route, or did not match (its own 404 and 405), under
// "unmatched"; an unknown method as "unknown", so that the series stay
// few. The server's tests (internal/httpserver) drive it through the real
// middleware and mux.
func TestHTTPRoutesObserve(t *testing.T) {
	m := New(version.Info{})
	routes := m.HTTPRoutes()
	routes.Route("GET /ok", "ok")
	for _, req := range []struct {
		method, pattern string
		code            int
	}{
		{http.MethodGet, "GET /ok", 200},
		{http.MethodGet, "GET /ok", 200},
		{http.MethodGet, "GET /ok", 503},
		{"PURGE", "GET /ok", 200},
		{http.MethodGet, "GET /unnamed", 200},
		{http.MethodGet, "", 404},
		{http.MethodDelete, "", 405},
	} {
		r := httptest.NewRequest(req.method, "/", nil)
		r.Pattern = req.pattern
		routes.Observe(r, req.code, time.Millisecond)
	}
	for _, want := range []struct {
		handler, method, code string
		n                     float64
	}{
		{"ok", "get", "200", 2}, {"ok", "get", "503", 1}, {"ok", "unknown", "200", 1},
		{"unmatched", "get", "200", 1}, {"unmatched", "get", "404", 1}, {"unmatched", "delete", "405", 1},
	} {
		if n := testutil.ToFloat64(m.httpRequests.WithLabelValues(want.handler, want.method, want.code)); n != want.n {
			t.Errorf("http_requests_total{handler=%q,method=%q,code=%q} = %v, want %v", want.handler, want.method, want.code, n, want.n)
		}
	}
	if n := testutil.CollectAndCount(m.httpRequests); n != 6 {
		t.Errorf("%d series of http_requests_total, want 6", n)
	}
	if n := testutil.CollectAndCount(m.httpDuration); n != 4 {
		t.Errorf("%d series of http_request_duration_seconds, want 4 (ok get, ok unknown, unmatched get, unmatched delete)", n)
	}
}
