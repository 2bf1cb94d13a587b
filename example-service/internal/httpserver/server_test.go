package httpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc/health"

	"github.com/zerodrop/zerodrop/example-service/internal/metrics"
	"github.com/zerodrop/zerodrop/example-service/internal/readiness"
	"github.com/zerodrop/zerodrop/example-service/internal/version"
)

func TestMain(m *testing.M) {
	// glog flushes its buffers from a goroutine that lives as long as the process.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/golang/glog.(*fileSink).flushDaemon"))
}

func newTestServer(t *testing.T) (*httptest.Server, *readiness.State) {
	t.Helper()
	info := version.Info{Version: "v1.2.3", GoVersion: "go1.x"}
	state := readiness.New(health.NewServer())
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = New(context.Background(), Deps{Info: info, Health: state, Metrics: metrics.New(info), Routes: []Route{
		{Pattern: "GET /{$}", Name: "root", Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "ok")
		})},
	}})
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, state
}

// TestRoutes: the API's routes are served, inside the middleware.
func TestRoutes(t *testing.T) {
	srv, _ := newTestServer(t)
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Errorf("GET / = %d %q, want 200 \"ok\"", resp.StatusCode, body)
	}
	if v := resp.Header.Get("X-Version"); v != "v1.2.3" {
		t.Errorf("X-Version = %q", v)
	}
	if c := resp.Header.Get("Connection"); c == "close" {
		t.Error("Connection: close before draining")
	}
}

func TestVersion(t *testing.T) {
	srv, _ := newTestServer(t)
	resp, err := http.Get(srv.URL + "/version")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info version.Info
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		t.Fatal(err)
	}
	if info.Version != "v1.2.3" || info.GoVersion != "go1.x" {
		t.Errorf("/version = %+v", info)
	}
}

func TestRequests(t *testing.T) {
	srv, _ := newTestServer(t)
	tests := []struct {
		method, path, body string
		want               int
	}{
		{http.MethodGet, "/", "", http.StatusOK},
		{http.MethodGet, "/version", "", http.StatusOK},
		{http.MethodGet, "/nope", "", http.StatusNotFound},
		{http.MethodDelete, "/", "", http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, resp.StatusCode, tt.want)
		}
		if resp.Header.Get("X-Version") == "" {
			t.Errorf("%s %s: no X-Version", tt.method, tt.path)
		}
	}
}

// TestSlowPrefaceIsCut: a client that sends the HTTP/2 preface of h2c a
// byte at a time is cut at ReadHeaderTimeout, as a slow HTTP/1 header is.
// Go releases before 1.26.6 let it hold the connection past it
// (CVE-2026-56853); internal/version's goFloor keeps the service above them.
// The timeout is shortened here so that the test is quick; the server is
// otherwise New's.
func TestSlowPrefaceIsCut(t *testing.T) {
	const timeout, every = 500 * time.Millisecond, 100 * time.Millisecond
	info := version.Info{Version: "v1"}
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = New(context.Background(), Deps{Info: info, Health: readiness.New(health.NewServer()), Metrics: metrics.New(info)})
	srv.Config.ReadHeaderTimeout = timeout
	srv.Start()
	t.Cleanup(srv.Close)

	start := time.Now() // before the server can start its clock
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	closed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, c) // returns when the server hangs up
		close(closed)
	}()
	preface := []byte(http2ClientPreface)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for i := range preface {
		if _, err := c.Write(preface[i : i+1]); err != nil {
			break
		}
		select {
		case <-closed:
		case <-tick.C:
			continue
		}
		break
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatalf("the connection was still open %v after a slow preface began; ReadHeaderTimeout is %v", time.Since(start), timeout)
	}
	took := time.Since(start)
	t.Logf("cut after %v (ReadHeaderTimeout %v, whole preface would take %v)", took, timeout, time.Duration(len(preface))*every)
	if took < timeout {
		t.Errorf("cut after %v, before ReadHeaderTimeout %v", took, timeout)
	}
	if whole := time.Duration(len(preface)) * every; took >= whole {
		t.Errorf("cut after %v, once the whole preface had come (%v): the slow preface was not cut at ReadHeaderTimeout %v", took, whole, timeout)
	}
}

// http2ClientPreface is the first thing an HTTP/2 client sends (RFC 9113).
const http2ClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

func TestDrainingClosesConnections(t *testing.T) {
	srv, state := newTestServer(t)
	state.Ready()
	state.Drain()
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !resp.Close {
		t.Errorf("while draining: status %d, Close %v; want 200 and Connection: close", resp.StatusCode, resp.Close)
	}
}

// TestDrainingMovesHTTP2Clients: an h2c client multiplexes every request on
// one connection, which Connection: close cannot reach. While draining, the
// server answers and then sends GOAWAY, so the client's next request opens a
// new connection (through the updated routing, in a cluster).
func TestDrainingMovesHTTP2Clients(t *testing.T) {
	srv, state := newTestServer(t)
	state.Ready()
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &protocols}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr}
	get := func() (proto string, reused bool) {
		t.Helper()
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodGet, srv.URL+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET / over %s: status %d", resp.Proto, resp.StatusCode)
		}
		return resp.Proto, reused
	}
	if proto, _ := get(); proto != "HTTP/2.0" {
		t.Fatalf("h2c request answered over %s, want HTTP/2.0", proto)
	}
	if _, reused := get(); !reused {
		t.Fatal("a second h2c request opened a new connection before any drain")
	}
	state.Drain()
	if _, reused := get(); !reused {
		t.Fatal("the first request while draining did not use the open connection")
	}
	if _, reused := get(); reused {
		t.Error("after a response while draining the client kept its HTTP/2 connection: no GOAWAY")
	}
}

func TestMiddleware(t *testing.T) {
	panicky := recoverPanics(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	rec := httptest.NewRecorder()
	panicky.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("panic: status %d, want 500", rec.Code)
	}

	var readErr error
	limited := limitBody(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { _, readErr = io.ReadAll(r.Body) }))
	limited.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("x", MaxBodyBytes+1))))
	if readErr == nil {
		t.Error("a body over MaxBodyBytes was read in full")
	}
}

// TestHandlersGetTheWholeWriter: through the server's whole middleware, with
// tracing off and on, over HTTP/1.1 and h2c, a handler finds on its
// response writer what the server's own offers (http.Flusher, http.Hijacker,
// io.ReaderFrom, 1xx headers), and the metrics count each answer once,
// under its route and the final status its client got: a panic as the 500
// recovery made of it, a 103 Early Hints as the 202 that followed, the
// mux's own 404 and 405 as "unmatched".
func TestHandlersGetTheWholeWriter(t *testing.T) {
	for _, tracing := range []bool{false, true} {
		t.Run(fmt.Sprintf("tracing=%v", tracing), func(t *testing.T) {
			info := version.Info{Version: "v1"}
			m := metrics.New(info)
			routes := append(testRoutes(), Route{Pattern: "GET /panic", Name: "panic", Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })})
			srv := serveH2C(t, Handler(Deps{Info: info, Health: readiness.New(health.NewServer()), Metrics: m, Routes: routes, Tracing: tracing}))
			want := map[string]int{}
			for _, proto := range []string{"HTTP/1.1", "h2c"} {
				client := testClient(t, proto == "h2c")
				for _, tt := range []struct {
					method, path, handler, answer string
					h1Only                        bool
				}{
					{"GET", "/stream", "stream", "200 one two", false},
					{"GET", "/hijack", "hijack", "200 hijacked", true},
					{"GET", "/early", "early", "202 ", false},
					{"GET", "/file", "file", "200 " + testFile, false},
					{"GET", "/panic", "panic", "500 Internal Server Error\n", false},
					{"GET", "/nope", "unmatched", "404 404 page not found\n", false},
					{"DELETE", "/early", "unmatched", "405 Method Not Allowed\n", false},
				} {
					if tt.h1Only && proto == "h2c" {
						continue
					}
					req, err := http.NewRequestWithContext(t.Context(), tt.method, srv+tt.path, nil)
					if err != nil {
						t.Fatal(err)
					}
					resp, err := client.Do(req)
					if err != nil {
						t.Fatalf("%s %s over %s: %v", tt.method, tt.path, proto, err)
					}
					body, err := io.ReadAll(resp.Body)
					_ = resp.Body.Close()
					if err != nil {
						t.Fatal(err)
					}
					if got := fmt.Sprintf("%d %s", resp.StatusCode, body); got != tt.answer {
						t.Errorf("%s %s over %s = %q, want %q", tt.method, tt.path, proto, got, tt.answer)
					}
					want[fmt.Sprintf("code=%q,handler=%q,method=%q", strings.Fields(tt.answer)[0], tt.handler, strings.ToLower(tt.method))]++
				}
			}
			checkRequestCounts(t, m, want)
		})
	}
}
