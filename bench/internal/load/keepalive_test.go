package load

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// keepAliveAgainst runs a KeepAlive load of 4 connections on srv, shuts srv
// down while the load runs, and returns what the load saw.
func keepAliveAgainst(t *testing.T, srv *httptest.Server) KeepAliveResult {
	t.Helper()
	run := KeepAlive{
		Addr: strings.TrimPrefix(srv.URL, "http://"), Path: "/", Connections: 4, Rate: 200, Timeout: time.Second,
	}.Start()
	time.Sleep(200 * time.Millisecond)
	if err := srv.Config.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	r := run.Stop()
	t.Logf("%+v", r)
	if r.Answered < 20 {
		t.Fatalf("only %d answered before the shutdown: %+v", r.Answered, r)
	}
	return r
}

// A server that shuts down under its kept-alive connections loses the next
// request of each idle one: at least one, at most one a connection.
func TestKeepAliveCountsRequestsLostOnKeptConnections(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := keepAliveAgainst(t, srv)
	if r.Lost < 1 || r.Lost > 4 {
		t.Errorf("lost %d on 4 kept-alive connections, want 1 to 4: %+v", r.Lost, r)
	}
	if r.FreshFailed == 0 {
		t.Errorf("no request failed on a new connection after the listener closed: %+v", r)
	}
}

// A server that asks every client to reconnect, as a draining one does,
// leaves no kept-alive connection to lose a request on.
func TestKeepAliveLosesNothingWhenTheServerClosesConnections(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Connection", "close")
	}))
	r := keepAliveAgainst(t, srv)
	if r.Lost != 0 || r.Closed != r.Answered {
		t.Errorf("lost %d, %d of %d answers closed the connection; want 0 lost and every answer closing: %+v", r.Lost, r.Closed, r.Answered, r)
	}
}
