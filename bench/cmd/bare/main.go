// Command bare is the benchmarks' baseline: the least a Go service can be
// while serving what example-service serves, so that the difference between
// the two is what the template costs. It answers GET / with the same JSON
// body, and exampleservice.v1.Greeter/SayHello with the example's own
// generated code, on a bare net/http server and a bare grpc-go server: no
// middleware, no interceptors, no health port, no metrics.
//
// On SIGTERM or SIGINT it stops the way a minimal but correct service does,
// http.Server.Shutdown and grpc.Server.GracefulStop side by side, so that the
// exit-time figures compare the template's drain machinery with the bare
// stack's own.
//
// Usage:
//
//	bare -http-addr 127.0.0.1:8080 -grpc-addr 127.0.0.1:9090
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"google.golang.org/grpc"

	exampleservicev1 "github.com/zerodrop/zerodrop/example-service/api/exampleservice/v1"
)

func main() {
	httpAddr := flag.String("http-addr", ":8080", "HTTP listen address")
	grpcAddr := flag.String("grpc-addr", ":9090", "gRPC listen address")
	addrFile := flag.String("addr-file", "", "once listening, write the bound addresses as JSON to this file, as example-service does")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	err := run(ctx, *httpAddr, *grpcAddr, *addrFile)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bare: %v\n", err)
		os.Exit(1)
	}
}

// hello is the body of GET /, field for field the example's.
type hello struct {
	Message  string `json:"message"`
	Version  string `json:"version"`
	Hostname string `json:"hostname"`
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

func run(ctx context.Context, httpAddr, grpcAddr, addrFile string) error {
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
		_ = httpLn.Close()
		return fmt.Errorf("listen on %s: %w", grpcAddr, err)
	}
	if addrFile != "" {
		line, _ := json.Marshal(map[string]string{"http": httpLn.Addr().String(), "grpc": grpcLn.Addr().String()})
		if err := os.WriteFile(addrFile, append(line, '\n'), 0o644); err != nil {
			_, _ = httpLn.Close(), grpcLn.Close()
			return fmt.Errorf("write address file: %w", err)
		}
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("name")
		if name == "" {
			name = "world"
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(hello{Message: "Hello, " + name + "!", Version: "dev", Hostname: hostname})
	})
	httpSrv := &http.Server{Handler: mux}
	grpcSrv := grpc.NewServer()
	exampleservicev1.RegisterGreeterServer(grpcSrv, greeter{hostname: hostname})

	errc := make(chan error, 2)
	go func() {
		if err := httpSrv.Serve(httpLn); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http: %w", err)
		}
	}()
	go func() {
		if err := grpcSrv.Serve(grpcLn); err != nil {
			errc <- fmt.Errorf("grpc: %w", err)
		}
	}()

	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = httpSrv.Shutdown(context.Background()) })
	wg.Go(grpcSrv.GracefulStop)
	wg.Wait()
	return nil
}
