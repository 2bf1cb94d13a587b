package load

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerodrop/zerodrop/test/e2e/internal/certs"
)

const host = "example-service.example.com"

// serverCert issues a certificate for host from a CA of its own.
func serverCert(t *testing.T) (*certs.Pair, tls.Certificate) {
	t.Helper()
	pair, err := certs.Issue(host)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(pair.CertPEM, pair.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair, cert
}

// TestHTTPThroughIngressAddress sends by the Ingress's name to a server on
// loopback, as the harness does through the ingress controller: the name
// must reach the server as Host and TLS server name, and the connection
// policies must hold (a new connection per request, or a pool).
func TestHTTPThroughIngressAddress(t *testing.T) {
	pair, cert := serverCert(t)
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != host || r.TLS == nil || r.TLS.ServerName != host {
			http.Error(w, fmt.Sprintf("host %q", r.Host), http.StatusMisdirectedRequest)
			return
		}
		w.Header().Set("X-Version", "1.2.3")
		fmt.Fprint(w, `{"version":"1.2.3"}`)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	defer srv.Close()

	for _, tc := range []struct {
		keepAlive bool
		wantConns func(n int32) bool
	}{
		{false, func(n int32) bool { return n == 20 }},
		{true, func(n int32) bool { return n >= 1 && n <= 2 }},
	} {
		conns.Store(0)
		c := HTTPClient{Name: "ingress", URL: "https://" + host + "/", Addr: srv.Listener.Addr().String(), RootCAs: pair.Roots,
			Rate: 200, KeepAlive: tc.keepAlive, Conns: 2, Timeout: 2 * time.Second, MaxInFlight: 20}
		rec, wait := Run(context.Background(), []Client{c}, 5*time.Second, 20)
		wait()
		s := rec.Samples()
		if len(s) != 20 {
			t.Fatalf("keep-alive %v: %d samples, want 20", tc.keepAlive, len(s))
		}
		for _, x := range s {
			if !x.OK || x.Version != "1.2.3" {
				t.Fatalf("keep-alive %v: %+v", tc.keepAlive, x)
			}
		}
		if n := conns.Load(); !tc.wantConns(n) {
			t.Errorf("keep-alive %v: %d connections", tc.keepAlive, n)
		}
	}
}

// TestHTTP2KeepsOneConnection: an HTTP2 client sends every request over
// one connection, cleartext (h2c) or TLS (ALPN h2), and counts the one dial.
func TestHTTP2KeepsOneConnection(t *testing.T) {
	pair, cert := serverCert(t)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			http.Error(w, r.Proto, http.StatusHTTPVersionNotSupported)
			return
		}
		w.Header().Set("X-Version", "1.2.3")
		fmt.Fprint(w, `{"version":"1.2.3"}`)
	})
	h2c := httptest.NewUnstartedServer(handler)
	h2c.Config.Protocols = new(http.Protocols)
	h2c.Config.Protocols.SetUnencryptedHTTP2(true)
	h2c.Start()
	defer h2c.Close()
	h2 := httptest.NewUnstartedServer(handler)
	h2.EnableHTTP2 = true
	h2.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	h2.StartTLS()
	defer h2.Close()

	for _, c := range []HTTPClient{
		{Name: "h2c", URL: h2c.URL + "/"},
		{Name: "h2", URL: "https://" + host + "/", Addr: h2.Listener.Addr().String(), RootCAs: pair.Roots},
	} {
		c.HTTP2, c.Conns, c.Rate, c.Timeout, c.MaxInFlight = true, 1, 200, 2*time.Second, 20
		rec, wait := Run(context.Background(), []Client{c}, 5*time.Second, 20)
		wait()
		dialed := 0
		for _, s := range rec.Samples() {
			if !s.OK {
				t.Fatalf("%s: %+v", c.Name, s)
			}
			if s.Dialed {
				dialed++
			}
		}
		if n := len(rec.Samples()); n != 20 || dialed != 1 {
			t.Errorf("%s: %d samples, %d dialed; want 20 over 1 connection", c.Name, n, dialed)
		}
	}
}
