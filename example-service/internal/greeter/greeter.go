// Package greeter is the example API of example-service: its gRPC service and
// its HTTP routes, joined to the servers in cmd/example-service/api.go. It is
// yours: change it, or delete it with api/exampleservice/v1 and
// client/greeter.go once your own API replaces it. Nothing else imports it.
package greeter

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/golang/glog"
	"google.golang.org/grpc"

	exampleservicev1 "github.com/zerodrop/zerodrop/example-service/api/exampleservice/v1"
	"github.com/zerodrop/zerodrop/example-service/internal/httpserver"
	"github.com/zerodrop/zerodrop/example-service/internal/version"
)

// Greeter implements the example API.
type Greeter struct {
	exampleservicev1.UnimplementedGreeterServer

	info     version.Info
	hostname string
	word     string // opens every greeting: --greeting
}

// New returns the Greeter, which greets with word and answers with this
// replica's version and hostname.
func New(info version.Info, hostname, word string) *Greeter {
	return &Greeter{info: info, hostname: hostname, word: word}
}

// Register adds the gRPC service to s.
func (g *Greeter) Register(s grpc.ServiceRegistrar) { exampleservicev1.RegisterGreeterServer(s, g) }

// Routes are the HTTP API's routes; each Name labels its metrics.
func (g *Greeter) Routes() []httpserver.Route {
	return []httpserver.Route{
		{Pattern: "GET /{$}", Name: "hello", Handler: http.HandlerFunc(g.hello)},
	}
}

// SayHello implements Greeter.SayHello.
func (g *Greeter) SayHello(_ context.Context, req *exampleservicev1.SayHelloRequest) (*exampleservicev1.SayHelloResponse, error) {
	return &exampleservicev1.SayHelloResponse{
		Message:  g.greeting(req.GetName()),
		Version:  g.info.Version,
		Hostname: g.hostname,
	}, nil
}

// GetVersion implements Greeter.GetVersion.
func (g *Greeter) GetVersion(context.Context, *exampleservicev1.GetVersionRequest) (*exampleservicev1.GetVersionResponse, error) {
	return &exampleservicev1.GetVersionResponse{
		Version:   g.info.Version,
		Revision:  g.info.Revision,
		GoVersion: g.info.GoVersion,
	}, nil
}

// helloResponse is the body of GET /.
type helloResponse struct {
	Message  string `json:"message"`
	Version  string `json:"version"`
	Hostname string `json:"hostname"`
}

// hello serves GET /?name=, the HTTP twin of SayHello.
func (g *Greeter) hello(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	err := json.NewEncoder(w).Encode(helloResponse{
		Message:  g.greeting(r.URL.Query().Get("name")),
		Version:  g.info.Version,
		Hostname: g.hostname,
	})
	if err != nil {
		// The client went away mid-response; nothing useful is left to send.
		glog.V(1).Infof("greeter: write response: %v", err)
	}
}

func (g *Greeter) greeting(name string) string {
	if name == "" {
		name = "world"
	}
	return g.word + ", " + name + "!"
}
