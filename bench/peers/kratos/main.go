// Command kratos is a benchmark peer: a service put together the way
// kratos-layout puts one together, with kratos v2's App, its HTTP and gRPC
// transport servers, and the one middleware the layout configures on both,
// recovery. It serves what example-service serves: GET / as JSON and
// exampleservice.v1.Greeter/SayHello, with the example's own generated gRPC
// code. The HTTP route is written the way protoc-gen-go-http writes kratos
// routes (bind, operation, the middleware chain, Result).
//
// It is its own module, so that kratos and its dependencies stay out of the
// bench module's graph; bench builds it into its work directory.
//
// Usage:
//
//	kratos -http-addr 127.0.0.1:0 -grpc-addr 127.0.0.1:0 -addr-file /dev/fd/3
//
// It listens before kratos starts its servers, on the addresses given (port 0
// lets the kernel pick), and writes the bound addresses as one JSON line to
// -addr-file, as example-service does, so that nothing guesses a port.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/go-kratos/kratos/v2"
	"github.com/go-kratos/kratos/v2/log"
	"github.com/go-kratos/kratos/v2/middleware/recovery"
	kgrpc "github.com/go-kratos/kratos/v2/transport/grpc"
	khttp "github.com/go-kratos/kratos/v2/transport/http"

	exampleservicev1 "github.com/zerodrop/zerodrop/example-service/api/exampleservice/v1"
)

// timeout is what kratos-layout's configs/config.yaml gives both servers.
const timeout = time.Second

func main() {
	httpAddr := flag.String("http-addr", "127.0.0.1:8000", "HTTP listen address")
	grpcAddr := flag.String("grpc-addr", "127.0.0.1:9000", "gRPC listen address")
	addrFile := flag.String("addr-file", "", "once listening, write the bound addresses as JSON to this file")
	flag.Parse()
	if err := run(*httpAddr, *grpcAddr, *addrFile); err != nil {
		fmt.Fprintf(os.Stderr, "kratos: %v\n", err)
		os.Exit(1)
	}
}

func run(httpAddr, grpcAddr, addrFile string) error {
	hostname, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("read hostname: %w", err)
	}
	httpLn, err := net.Listen("tcp", httpAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", httpAddr, err)
	}
	grpcLn, err := net.Listen("tcp", grpcAddr)
	if err != nil {
		return errors.Join(fmt.Errorf("listen on %s: %w", grpcAddr, err), httpLn.Close())
	}
	if addrFile != "" {
		line, _ := json.Marshal(map[string]string{"http": httpLn.Addr().String(), "grpc": grpcLn.Addr().String()})
		if err := os.WriteFile(addrFile, append(line, '\n'), 0o644); err != nil {
			return errors.Join(fmt.Errorf("write address file: %w", err), httpLn.Close(), grpcLn.Close())
		}
	}

	// The layout's logger: standard output, with a timestamp and the caller.
	logger := log.With(log.NewStdLogger(os.Stdout), "ts", log.DefaultTimestamp, "caller", log.DefaultCaller, "service.id", hostname)
	g := greeter{hostname: hostname}

	gs := kgrpc.NewServer(kgrpc.Listener(grpcLn), kgrpc.Timeout(timeout), kgrpc.Middleware(recovery.Recovery()))
	exampleservicev1.RegisterGreeterServer(gs, g)
	hs := khttp.NewServer(khttp.Listener(httpLn), khttp.Timeout(timeout), khttp.Middleware(recovery.Recovery()))
	hs.Route("/").GET("/", sayHelloHandler(g))

	app := kratos.New(
		kratos.ID(hostname),
		kratos.Name("kratos-peer"),
		kratos.Version("dev"),
		kratos.Logger(logger),
		kratos.Server(gs, hs),
	)
	if err := app.Run(); err != nil {
		return fmt.Errorf("kratos app: %w", err)
	}
	return nil
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

// sayHelloOperation names the route for kratos' middleware selectors, as a
// generated route would.
const sayHelloOperation = "/exampleservice.v1.Greeter/SayHello"

// sayHelloHandler serves SayHello over HTTP in the shape of a route that
// protoc-gen-go-http generates: bind the query into the request, run the
// server's middleware around the call, and encode the reply with kratos' JSON
// codec.
func sayHelloHandler(g greeter) khttp.HandlerFunc {
	return func(ctx khttp.Context) error {
		var in exampleservicev1.SayHelloRequest
		if err := ctx.BindQuery(&in); err != nil {
			return err
		}
		khttp.SetOperation(ctx, sayHelloOperation)
		h := ctx.Middleware(func(ctx context.Context, req any) (any, error) {
			return g.SayHello(ctx, req.(*exampleservicev1.SayHelloRequest))
		})
		out, err := h(ctx, &in)
		if err != nil {
			return err
		}
		return ctx.Result(200, out)
	}
}
