package metrics

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/zerodrop/zerodrop/example-service/internal/version"
)

// TestHTTPRoutesCountEveryAnswer: every request is counted under its
// route's name, a panic as the 500 that recovery inside the wrapper makes
// of it, and the mux's own 404 and 405 under "unmatched".
func TestHTTPRoutesCountEveryAnswer(t *testing.T) {
	m := New(version.Info{})
	routes := m.HTTPRoutes()
	mux := http.NewServeMux()
	for pattern, h := range map[string]http.HandlerFunc{
		"GET /ok":   func(http.ResponseWriter, *http.Request) {},
		"GET /boom": func(http.ResponseWriter, *http.Request) { panic("boom") },
	} {
		mux.Handle(pattern, h)
		routes.Route(pattern, pattern[len("GET /"):])
	}
	recovering := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if recover() != nil {
				w.WriteHeader(http.StatusInternalServerError)
			}
		}()
		mux.ServeHTTP(w, r)
	})
	h := routes.Handler(recovering)
	for _, req := range []struct{ method, path string }{
		{http.MethodGet, "/ok"}, {http.MethodGet, "/boom"}, {http.MethodGet, "/nope"}, {http.MethodDelete, "/ok"},
	} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(req.method, req.path, nil))
	}
	for _, want := range []struct{ handler, method, code string }{
		{"ok", "get", "200"}, {"boom", "get", "500"}, {"unmatched", "get", "404"}, {"unmatched", "delete", "405"},
	} {
		if n := testutil.ToFloat64(m.httpRequests.WithLabelValues(want.handler, want.method, want.code)); n != 1 {
			t.Errorf("http_requests_total%+v = %v, want 1", want, n)
		}
	}
	if n := testutil.CollectAndCount(m.httpRequests); n != 4 {
		t.Errorf("%d series of http_requests_total, want 4", n)
	}
}
