package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang/glog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"

	drillv1 "github.com/zerodrop/zerodrop/example-service/api/exampleservice/drill/v1"
	"github.com/zerodrop/zerodrop/example-service/client"
	"github.com/zerodrop/zerodrop/example-service/internal/config"
	"github.com/zerodrop/zerodrop/example-service/internal/drill"
	"github.com/zerodrop/zerodrop/example-service/internal/grpcserver"
	"github.com/zerodrop/zerodrop/example-service/internal/httpserver"
	"github.com/zerodrop/zerodrop/example-service/internal/lifecycle"
	"github.com/zerodrop/zerodrop/example-service/internal/listeners"
	"github.com/zerodrop/zerodrop/example-service/internal/metrics"
	"github.com/zerodrop/zerodrop/example-service/internal/readiness"
	"github.com/zerodrop/zerodrop/example-service/internal/tracing"
	"github.com/zerodrop/zerodrop/example-service/internal/version"
)

// run wires the service together and serves until ctx is cancelled. It
// returns errors instead of exiting, so that main alone decides the exit code.
func run(ctx context.Context, args []string, getenv func(string) string) error {
	// glog registers its flags on flag.CommandLine; log to stderr unless the
	// user asks for files, because a container's files are lost with it.
	if err := flag.Set("logtostderr", "true"); err != nil {
		return fmt.Errorf("configure glog: %w", err)
	}
	var own settings
	cfg, err := config.Parse(flag.CommandLine, args, getenv, own.register)
	if err != nil {
		return err
	}
	hostname, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("read hostname: %w", err)
	}
	info := version.Read(cfg.Version)
	if soft, ok := memoryLimit(cfg.MemoryLimit, getenv); ok {
		debug.SetMemoryLimit(soft)
		glog.Infof("memory: Go soft limit %d MiB, 90%% of the container's %d MiB", soft>>20, cfg.MemoryLimit>>20)
	}

	// Tracing is on only when the OTEL_* environment names an endpoint.
	flushTraces, err := tracing.Start(ctx, getenv, "example-service", info)
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}

	// Open every listener before serving any, so that a port that cannot be
	// bound fails the start with nothing half-running.
	lns, err := listeners.Open(cfg.HTTPAddr, cfg.GRPCAddr, cfg.HealthAddr)
	if err != nil {
		return err
	}
	bound := lns.Addrs()
	glog.Infof("listening: http %s, grpc %s, health %s", bound.HTTP, bound.GRPC, bound.Health)
	if cfg.AddrFile != "" {
		if err := listeners.WriteFile(cfg.AddrFile, bound); err != nil {
			return errors.Join(err, lns.Close())
		}
	}

	// base is the parent of every HTTP request context; cancelling it is part of
	// the hard stop, because http.Server.Shutdown does not cancel requests.
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	stopping := make(chan struct{})

	own.Info, own.Hostname, own.Stopping = info, hostname, stopping
	svc, err := newAPI(ctx, own)
	if err != nil {
		return errors.Join(fmt.Errorf("set up the API: %w", err), lns.Close())
	}
	if cfg.Drill {
		d := drill.New(info.Version, hostname, stopping)
		if cfg.DrillUpstream != "" {
			opts := []client.Option{}
			if cfg.DrillUpstreamFallback != "" {
				opts = append(opts, client.WithFallback(cfg.DrillUpstreamFallback))
			}
			up, err := client.New(ctx, cfg.DrillUpstream, opts...)
			if err != nil {
				return errors.Join(fmt.Errorf("--drill-upstream: %w", err), lns.Close())
			}
			d.RelayTo(drillv1.NewDrillClient(up.Conn()))
			// Closed in cleanup, once the servers have drained: calls
			// relayed during the drain still reach the upstream.
			svc.Cleanup = append(svc.Cleanup, lifecycle.Cleanup{Name: "drill upstream client", Run: func(context.Context) error { return up.Close() }})
			glog.Infof("drill: relaying Work to %s", cfg.DrillUpstream)
		}
		svc.GRPC = append(svc.GRPC, d.Register)
		svc.HTTP = append(svc.HTTP, d.Routes()...)
		glog.Info("drill: serving the drill API; turn --drill off in production")
	}

	m := metrics.New(info)
	grpcHealth := health.NewServer()
	grpcActive := new(lifecycle.Active)
	grpcSrv := grpcserver.New(grpcserver.Config{
		MaxConnectionAge:      cfg.GRPCMaxConnectionAge,
		MaxConnectionAgeGrace: cfg.GRPCMaxConnectionAgeGrace,
		Reflection:            cfg.GRPCReflection,
		Health:                grpcHealth,
		Metrics:               m,
		Active:                grpcActive,
		Tracing:               flushTraces != nil,
	}, svc.GRPC...)
	state := readiness.New(grpcHealth, grpcserver.Services(grpcSrv)...)
	api := httpserver.New(base, httpserver.Deps{Info: info, Health: state, Metrics: m, Routes: svc.HTTP, Tracing: flushTraces != nil})
	admin := readiness.NewServer(state, m.Handler())

	var cuts []lifecycle.Cut // written by Run's goroutines
	var cutMu sync.Mutex
	err = lifecycle.Run(ctx, lifecycle.Plan{
		Delay:          cfg.ShutdownDelay,
		Timeout:        cfg.ShutdownTimeout,
		CleanupTimeout: cfg.CleanupTimeout,
		Servers: []lifecycle.Server{
			lifecycle.HTTP("http", api, lns.HTTP),
			lifecycle.GRPC("grpc", grpcSrv, lns.GRPC, grpcActive, grpcserver.HandshakeTimeout),
		},
		Admin:    []lifecycle.Server{lifecycle.HTTP("health", admin, lns.Health)},
		Ready:    state.Ready,
		Drain:    state.Drain,
		Stopping: func() { close(stopping) },
		HardStop: func(c lifecycle.Cut) {
			m.HardStop(c.Server)
			cutMu.Lock()
			cuts = append(cuts, c)
			cutMu.Unlock()
		},
		Cleanup: cleanup(cancelBase, svc.Cleanup, flushTraces),
	})
	cutMu.Lock()
	msg := hardStopMessage(cuts, cfg.ShutdownTimeout, cfg.CleanupTimeout)
	cutMu.Unlock()
	if msg != "" {
		if werr := writeTerminationMessage(cfg.TerminationLog, msg); werr != nil {
			glog.Warningf("%s; writing it to %s: %v", msg, cfg.TerminationLog, werr)
		}
	}
	return err
}

// cleanup is the shutdown's last phase, in order: the request contexts
// end, so handlers still running after the hard stop see it; the API's own
// steps (clients of other services) run; and the spans still queued, those
// of the calls served during the drain included, are flushed. A collector
// that is slow or gone costs the flush its share of the cleanup timeout,
// and a warning, never the exit.
func cleanup(cancelBase context.CancelFunc, api []lifecycle.Cleanup, flushTraces func(context.Context) error) []lifecycle.Cleanup {
	steps := append([]lifecycle.Cleanup{
		{Name: "request contexts", Run: func(context.Context) error { cancelBase(); return nil }},
	}, api...)
	if flushTraces != nil {
		steps = append(steps, lifecycle.Cleanup{Name: "traces", Run: func(ctx context.Context) error {
			// Give up a little before the cleanup timeout, so that the
			// step ends with its warning instead of being abandoned.
			if deadline, ok := ctx.Deadline(); ok {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, deadline.Add(-time.Until(deadline)/20))
				defer cancel()
			}
			if err := flushTraces(ctx); err != nil {
				glog.Warningf("tracing: spans not exported at shutdown: %v", err)
			}
			return nil
		}})
	}
	return steps
}

// service is what the API (api.go) hands to the runtime: the one point
// where it joins the servers. The runtime adds its own beside it:
// grpc.health.v1 for every service, GET /version, and the drill with
// --drill.
type service struct {
	// GRPC registers the gRPC services, each typically a generated
	// RegisterXServer bound to its implementation.
	GRPC []func(grpc.ServiceRegistrar)
	// HTTP are the HTTP API's routes.
	HTTP []httpserver.Route
	// Cleanup runs once the servers have stopped, in order, within
	// --cleanup-timeout: close clients of other services here, so that
	// calls still being served while draining could use them.
	Cleanup []lifecycle.Cleanup
}

// apiEnv is what the runtime gives the API to build itself from, besides
// its own settings.
type apiEnv struct {
	Info     version.Info
	Hostname string
	// Stopping is closed when the graceful drain begins: end long-lived
	// streams then, with UNAVAILABLE, so that their clients resume on
	// another replica instead of being cut at --shutdown-timeout.
	Stopping <-chan struct{}
}

// hardStopMessage says which servers the shutdown cut with work in flight,
// and which setting ran out: S for the traffic servers, F for the admin
// server. It is "" when nothing was cut.
func hardStopMessage(cuts []lifecycle.Cut, s, f time.Duration) string {
	var msgs []string
	for _, cleanup := range []bool{false, true} {
		var names []string
		var n int64
		for _, c := range cuts {
			if c.Cleanup == cleanup {
				names = append(names, c.Server)
				n += c.InFlight
			}
		}
		if len(names) == 0 {
			continue
		}
		slices.Sort(names)
		limit := fmt.Sprintf("--shutdown-timeout (%v)", s)
		if cleanup {
			limit = fmt.Sprintf("--cleanup-timeout (%v)", f)
		}
		msgs = append(msgs, fmt.Sprintf("the %s server(s) still had %d requests or streams when %s ran out, and they were cut", strings.Join(names, ", "), n, limit))
	}
	if len(msgs) == 0 {
		return ""
	}
	return "hard stop: " + strings.Join(msgs, "; ") + "; raise the setting, or end long work sooner when draining"
}

// writeTerminationMessage writes msg to the termination log that Kubernetes
// mounts into the container, and does nothing where there is none: it never
// creates the file.
func writeTerminationMessage(path, msg string) error {
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open termination log: %w", err)
	}
	_, err = f.WriteString(msg + "\n")
	return errors.Join(err, f.Close())
}

// memoryLimit is the Go runtime's soft memory limit for a container limit of
// limit bytes: 90% of it, leaving room for what the runtime does not count
// (stacks of threads in cgo, the binary's own pages). GOMEMLIMIT, when set,
// is the user's choice and wins.
func memoryLimit(limit int64, getenv func(string) string) (int64, bool) {
	if limit <= 0 || getenv("GOMEMLIMIT") != "" {
		return 0, false
	}
	return limit / 10 * 9, true
}
