// Command example-service serves the Example Service HTTP and gRPC APIs, with probes and
// metrics on a separate health port, and shuts down without dropping a request
// (see internal/lifecycle for the contract).
//
// Usage:
//
//	example-service [flags]
//
// Every flag falls back to an environment variable; run with -help to list
// them. Logging is glog's: it goes to stderr unless -log_dir is set.
//
// # Example
//
//	example-service -shutdown-delay=0 -v=1
//	curl localhost:8080/version
//	curl localhost:8081/readyz
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/golang/glog"

	"github.com/zerodrop/zerodrop/example-service/internal/lifecycle"
)

func main() {
	ctx, stop := lifecycle.SignalContext(context.Background())
	err := run(ctx, os.Args[1:], os.Getenv)
	stop()
	glog.Flush()
	if err != nil {
		fmt.Fprintf(os.Stderr, "example-service: %v\n", err)
		os.Exit(1)
	}
}
