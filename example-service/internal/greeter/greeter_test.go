package greeter

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"google.golang.org/grpc"

	exampleservicev1 "github.com/zerodrop/zerodrop/example-service/api/exampleservice/v1"
	"github.com/zerodrop/zerodrop/example-service/internal/servicetest"
	"github.com/zerodrop/zerodrop/example-service/internal/version"
)

var info = version.Info{Version: "v1", Revision: "abc", GoVersion: "go1.x"}

func TestGreeter(t *testing.T) {
	srv := grpc.NewServer()
	New(info, "pod-a", "Hello").Register(srv)
	c := exampleservicev1.NewGreeterClient(servicetest.Loopback(t, srv))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	for name, want := range map[string]string{"Ada": "Hello, Ada!", "": "Hello, world!"} {
		hello, err := c.SayHello(ctx, &exampleservicev1.SayHelloRequest{Name: name})
		if err != nil || hello.GetMessage() != want || hello.GetVersion() != "v1" || hello.GetHostname() != "pod-a" {
			t.Errorf("SayHello(%q) = %v, %v; want %q from pod-a at v1", name, hello, err, want)
		}
	}
	v, err := c.GetVersion(ctx, &exampleservicev1.GetVersionRequest{})
	if err != nil || v.GetVersion() != "v1" || v.GetRevision() != "abc" || v.GetGoVersion() != "go1.x" {
		t.Errorf("GetVersion = %v, %v", v, err)
	}
}

func TestHello(t *testing.T) {
	mux := http.NewServeMux()
	for _, r := range New(info, "pod-a", "Hello").Routes() {
		mux.Handle(r.Pattern, r.Handler)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/?name=Ada")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body helloResponse
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	want := helloResponse{Message: "Hello, Ada!", Version: "v1", Hostname: "pod-a"}
	if resp.StatusCode != http.StatusOK || body != want {
		t.Errorf("GET /?name=Ada = %d %+v, want 200 %+v", resp.StatusCode, body, want)
	}
}
