package readiness

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func TestMain(m *testing.M) {
	// glog flushes its buffers from a goroutine that lives as long as the process.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/golang/glog.(*fileSink).flushDaemon"))
}

func TestStates(t *testing.T) {
	g := health.NewServer()
	s := New(g, "svc.v1.Orders")
	srv := httptest.NewServer(NewServer(s, http.NotFoundHandler()).Handler)
	defer srv.Close()

	check := func(stage string, readyz int, grpc healthpb.HealthCheckResponse_ServingStatus) {
		t.Helper()
		if got := get(t, srv.URL+"/readyz"); got != readyz {
			t.Errorf("%s: /readyz = %d, want %d", stage, got, readyz)
		}
		if got := get(t, srv.URL+"/livez"); got != http.StatusOK {
			t.Errorf("%s: /livez = %d, want 200", stage, got)
		}
		for _, name := range []string{"", "svc.v1.Orders"} {
			resp, err := g.Check(context.Background(), &healthpb.HealthCheckRequest{Service: name})
			if err != nil || resp.GetStatus() != grpc {
				t.Errorf("%s: gRPC health %q = %v, %v; want %v", stage, name, resp.GetStatus(), err, grpc)
			}
		}
	}
	check("starting", http.StatusServiceUnavailable, healthpb.HealthCheckResponse_NOT_SERVING)
	s.Ready()
	check("ready", http.StatusOK, healthpb.HealthCheckResponse_SERVING)
	s.Drain()
	check("draining", http.StatusServiceUnavailable, healthpb.HealthCheckResponse_NOT_SERVING)
	s.Ready() // a late Ready must not undo the drain
	check("ready after drain", http.StatusServiceUnavailable, healthpb.HealthCheckResponse_NOT_SERVING)
	if !s.Draining() {
		t.Error("Draining() = false after Drain")
	}
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}
