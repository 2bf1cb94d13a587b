package certs

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestIssue serves with the pair and connects with its roots, by the name
// and not by any other.
func TestIssue(t *testing.T) {
	p, err := Issue("example-service.example.com")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(p.CertPEM, p.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	defer srv.Close()

	for name, wantOK := range map[string]bool{"example-service.example.com": true, "other.example.com": false} {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.Roots, ServerName: name}}}
		resp, err := c.Get(srv.URL)
		if err == nil {
			resp.Body.Close()
		}
		if (err == nil) != wantOK {
			t.Errorf("server name %s: err %v, want ok %v", name, err, wantOK)
		}
	}
}
