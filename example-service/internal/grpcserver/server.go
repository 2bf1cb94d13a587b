// Package grpcserver is example-service's gRPC API: the server options, interceptors
// and keepalive policy that let clients drain and rebalance, and the Greeter
// implementation.
package grpcserver

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/golang/glog"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	exampleservicev1 "github.com/zerodrop/zerodrop/example-service/api/exampleservice/v1"
	"github.com/zerodrop/zerodrop/example-service/internal/metrics"
)

// KeepaliveMinTime is the shortest client keepalive interval the server
// accepts. Clients that ping more often are sent GOAWAY (too_many_pings); the
// generated client pings every 20s, above this floor.
const KeepaliveMinTime = 10 * time.Second

// Config is what New needs besides the Greeter.
type Config struct {
	// MaxConnectionAge makes every client reconnect, and so re-resolve DNS,
	// periodically: the only way a round_robin client learns about new
	// replicas after a scale-up, because grpc-go re-resolves only when a
	// connection closes.
	MaxConnectionAge time.Duration
	// MaxConnectionAgeGrace lets calls in flight on an aged connection finish.
	// It must not exceed the shutdown timeout.
	MaxConnectionAgeGrace time.Duration
	Health                *health.Server
	Metrics               *metrics.Metrics
}

// New returns a gRPC server with Greeter, grpc.health.v1 and reflection
// registered. Interceptors run outermost first: metrics, the access log (which
// leaves out health checks), then panic recovery, so that a panic is logged
// and counted as the Internal error it becomes.
func New(cfg Config, greeter exampleservicev1.GreeterServer) *grpc.Server {
	notHealth := selector.MatchFunc(func(_ context.Context, c interceptors.CallMeta) bool {
		return c.Service != healthpb.Health_ServiceDesc.ServiceName
	})
	logger := logging.LoggerFunc(glogLog)
	logOpts := []logging.Option{logging.WithLogOnEvents(logging.FinishCall)}
	recoverOpts := []recovery.Option{recovery.WithRecoveryHandler(func(p any) error {
		glog.Errorf("grpc: panic: %v\n%s", p, debug.Stack())
		return status.Error(codes.Internal, "internal error")
	})}
	s := grpc.NewServer(
		grpc.ChainUnaryInterceptor(
			cfg.Metrics.GRPC.UnaryServerInterceptor(),
			selector.UnaryServerInterceptor(logging.UnaryServerInterceptor(logger, logOpts...), notHealth),
			recovery.UnaryServerInterceptor(recoverOpts...),
		),
		grpc.ChainStreamInterceptor(
			cfg.Metrics.GRPC.StreamServerInterceptor(),
			selector.StreamServerInterceptor(logging.StreamServerInterceptor(logger, logOpts...), notHealth),
			recovery.StreamServerInterceptor(recoverOpts...),
		),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionAge:      cfg.MaxConnectionAge,
			MaxConnectionAgeGrace: cfg.MaxConnectionAgeGrace,
		}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime: KeepaliveMinTime,
			// The client keeps idle connections warm, so that the first call
			// after a quiet period does not find a dead connection.
			PermitWithoutStream: true,
		}),
	)
	exampleservicev1.RegisterGreeterServer(s, greeter)
	healthpb.RegisterHealthServer(s, cfg.Health)
	reflection.Register(s)
	cfg.Metrics.GRPC.InitializeMetrics(s)
	return s
}

// glogLog adapts go-grpc-middleware's logger to glog. Successful calls are
// logged only at -v=1, so that the access log costs nothing by default;
// failures are always logged.
func glogLog(_ context.Context, lvl logging.Level, msg string, fields ...any) {
	line := msg + formatFields(fields)
	switch lvl {
	case logging.LevelDebug:
		glog.V(2).InfoDepth(3, line)
	case logging.LevelInfo:
		glog.V(1).InfoDepth(3, line)
	case logging.LevelWarn:
		glog.WarningDepth(3, line)
	default:
		glog.ErrorDepth(3, line)
	}
}

func formatFields(fields []any) string {
	var s string
	for i := 0; i+1 < len(fields); i += 2 {
		s += fmt.Sprintf(" %v=%v", fields[i], fields[i+1])
	}
	return s
}
