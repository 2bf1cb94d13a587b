// Command example-service-load sends a bounded, constant rate of calls to example-service's
// drill (which it serves with --drill) through the retrying client, and reports final outcomes by status code,
// latency percentiles, and attempts apart from calls. It exits 1 if any call
// failed, so that scripts and rollout tests can use it as an assertion.
//
// Usage:
//
//	example-service-load [-target T] [-rate 100] [-duration 30s] [-method Work|Count] [-json]
//
// # Example
//
//	example-service-load -target dns:///example-service-headless.example-service.svc.cluster.local.:9090 -rate 200 -duration 1m
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	drillv1 "github.com/zerodrop/zerodrop/example-service/api/exampleservice/drill/v1"
	"github.com/zerodrop/zerodrop/example-service/client"
	"github.com/zerodrop/zerodrop/example-service/internal/loadgen"
)

// maxDuration keeps every run bounded, whatever the flags say.
const maxDuration = time.Hour

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	failed, err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "example-service-load: %v\n", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) (failed bool, err error) {
	fs := flag.NewFlagSet("example-service-load", flag.ContinueOnError)
	target := fs.String("target", client.DefaultTarget, "gRPC target")
	fallback := fs.String("fallback", client.DefaultFallbackTarget, `target for calls while -target has no ready pod (the ClusterIP Service); "" for none`)
	rate := fs.Int("rate", 100, "calls per second")
	duration := fs.Duration("duration", 30*time.Second, "how long to send (at most "+maxDuration.String()+")")
	method := fs.String("method", "Work", "the drill's Work (idempotent, retried) or Count (not idempotent, never retried)")
	timeout := fs.Duration("timeout", client.DefaultTimeout, "deadline of each call, retries included")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return false, err
	}
	switch {
	case *rate < 1:
		return false, fmt.Errorf("-rate %d: use at least 1", *rate)
	case *duration <= 0 || *duration > maxDuration:
		return false, fmt.Errorf("-duration %v: use more than 0 and at most %v", *duration, maxDuration)
	case *method != "Work" && *method != "Count":
		return false, fmt.Errorf("-method %q: use Work or Count", *method)
	}
	var retries loadgen.Counter
	opts := []client.Option{client.WithTimeout(*timeout), client.WithOnRetry(retries.Retry), client.WithOnHedge(retries.Hedge)}
	if *fallback != "" {
		opts = append(opts, client.WithFallback(*fallback))
	}
	c, err := client.New(ctx, *target, opts...)
	if err != nil {
		return false, err
	}
	defer c.Close()
	drill := drillv1.NewDrillClient(c.Conn())
	call := func(ctx context.Context) (string, error) {
		if *method == "Count" {
			resp, err := drill.Count(ctx, &drillv1.CountRequest{})
			return resp.GetHostname(), err
		}
		resp, err := drill.Work(ctx, &drillv1.WorkRequest{})
		return resp.GetVersion(), err
	}
	report := loadgen.Run(ctx, loadgen.Config{Rate: *rate, Duration: *duration}, &retries, call)
	if *asJSON {
		err = report.WriteJSON(out)
	} else {
		err = report.WriteText(out)
	}
	return report.Failed > 0, err
}
