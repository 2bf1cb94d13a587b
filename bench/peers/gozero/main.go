// Command gozero is a benchmark peer: a service put together the way goctl
// generates go-zero services, with go-zero's rest server for the HTTP API and
// its zrpc server for gRPC, each configured from the few keys goctl's
// etc/*.yaml sets (Name, Host, Port; Name, ListenOn) and go-zero's defaults
// for everything else: its access log, tracing, Prometheus counters,
// breaker, load shedding, timeouts, recovery and body limit on both servers,
// the dev server with /healthz, and go-zero's own SIGTERM handling. It serves
// what example-service serves: GET / as JSON, the way a goctl handler and
// logic answer (httpx.OkJsonCtx), and exampleservice.v1.Greeter/SayHello,
// with the example's own generated gRPC code.
//
// goctl makes the API and the RPC service two programs; one process holds
// both here so that it is measured as every other side is, one server with
// an HTTP and a gRPC port. It is its own module, so that go-zero and its
// dependencies stay out of the bench module's graph; bench builds it into
// its work directory.
//
// Usage:
//
//	gozero -http-port 8888 -grpc-port 8080 -dev-port 6060
//
// go-zero binds the ports it is given and says which only in its log, so
// bench draws free ones, as it does for podinfo. Everything listens on
// 127.0.0.1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/zeromicro/go-zero/core/conf"
	"github.com/zeromicro/go-zero/rest"
	"github.com/zeromicro/go-zero/rest/httpx"
	"github.com/zeromicro/go-zero/zrpc"
	"google.golang.org/grpc"

	exampleservicev1 "github.com/zerodrop/zerodrop/example-service/api/exampleservice/v1"
)

// config is what goctl's two etc/*.yaml files set, with the dev server (on
// by default, on port 6060 of every interface) moved to loopback and a
// port of its own.
const config = `
API:
  Name: gozero-api
  Host: 127.0.0.1
  Port: %d
  DevServer:
    Host: 127.0.0.1
    Port: %d
RPC:
  Name: gozero.rpc
  ListenOn: 127.0.0.1:%d
  DevServer:
    Host: 127.0.0.1
    Port: %d
`

type serviceConfig struct {
	API rest.RestConf
	RPC zrpc.RpcServerConf
}

func main() {
	httpPort := flag.Int("http-port", 8888, "HTTP port, on 127.0.0.1")
	grpcPort := flag.Int("grpc-port", 8080, "gRPC port, on 127.0.0.1")
	devPort := flag.Int("dev-port", 6060, "go-zero's dev server port (/healthz, /metrics), on 127.0.0.1")
	flag.Parse()
	if err := run(*httpPort, *grpcPort, *devPort); err != nil {
		fmt.Fprintf(os.Stderr, "gozero: %v\n", err)
		os.Exit(1)
	}
}

func run(httpPort, grpcPort, devPort int) error {
	hostname, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("read hostname: %w", err)
	}
	// Loaded as goctl's main loads its file, so that go-zero fills in its
	// defaults; a struct literal would leave them at zero and turn
	// middleware off.
	var c serviceConfig
	if err := conf.LoadFromYamlBytes(fmt.Appendf(nil, config, httpPort, devPort, grpcPort, devPort), &c); err != nil {
		return fmt.Errorf("load config: %w", err)
	}
	g := greeter{hostname: hostname}

	rpc, err := zrpc.NewServer(c.RPC, func(s *grpc.Server) {
		exampleservicev1.RegisterGreeterServer(s, g)
	})
	if err != nil {
		return fmt.Errorf("zrpc server: %w", err)
	}
	api, err := rest.NewServer(c.API)
	if err != nil {
		return fmt.Errorf("rest server: %w", err)
	}
	api.AddRoute(rest.Route{Method: http.MethodGet, Path: "/", Handler: sayHelloHandler(g)})

	rpcDone := make(chan struct{})
	go func() {
		defer close(rpcDone)
		rpc.Start() // until go-zero's SIGTERM handling stops it
	}()
	// bench takes a 200 from GET / as ready, and then calls both ports, so
	// the HTTP server starts only once the gRPC port accepts connections;
	// go-zero gives no other sign of it outside its log.
	if err := waitAccepting(fmt.Sprintf("127.0.0.1:%d", grpcPort), rpcDone); err != nil {
		return err
	}
	api.Start() // until go-zero's SIGTERM handling stops it
	<-rpcDone
	return nil
}

// waitAccepting returns once addr accepts a TCP connection, or fails when
// the server ends first or takes more than 10 s to listen.
func waitAccepting(addr string, ended <-chan struct{}) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			return conn.Close()
		}
		select {
		case <-ended:
			return errors.New("the zrpc server ended before it listened on " + addr)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the zrpc server did not listen on %s within 10s: %w", addr, err)
		}
	}
}

// greeter answers SayHello as the example's Greeter does.
type greeter struct {
	exampleservicev1.UnimplementedGreeterServer
	hostname string
}

func (g greeter) SayHello(_ context.Context, req *exampleservicev1.SayHelloRequest) (*exampleservicev1.SayHelloResponse, error) {
	name := req.GetName()
	if name == "" {
		name = "world"
	}
	return &exampleservicev1.SayHelloResponse{Message: "Hello, " + name + "!", Version: "dev", Hostname: g.hostname}, nil
}

// helloRequest and helloReply are the types goctl generates from an .api
// file for the route.
type helloRequest struct {
	Name string `form:"name,optional"`
}

type helloReply struct {
	Message  string `json:"message"`
	Version  string `json:"version"`
	Hostname string `json:"hostname"`
}

// sayHelloHandler is a goctl handler and its logic in one: parse the
// request with httpx.Parse, answer with httpx.OkJsonCtx, and report an error
// with httpx.ErrorCtx.
func sayHelloHandler(g greeter) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req helloRequest
		if err := httpx.Parse(r, &req); err != nil {
			httpx.ErrorCtx(r.Context(), w, err)
			return
		}
		out, err := g.SayHello(r.Context(), &exampleservicev1.SayHelloRequest{Name: req.Name})
		if err != nil {
			httpx.ErrorCtx(r.Context(), w, err)
			return
		}
		httpx.OkJsonCtx(r.Context(), w, helloReply{Message: out.GetMessage(), Version: out.GetVersion(), Hostname: out.GetHostname()})
	}
}
