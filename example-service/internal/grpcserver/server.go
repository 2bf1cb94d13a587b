// Package grpcserver is example-service's gRPC server: the options, interceptors
// and keepalive policy that let clients drain and rebalance, whatever
// services it carries.
package grpcserver

import (
	"context"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/golang/glog"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	"github.com/zerodrop/zerodrop/example-service/internal/lifecycle"
	"github.com/zerodrop/zerodrop/example-service/internal/metrics"
)

// KeepaliveMinTime is the shortest client keepalive interval the server
// accepts. Clients that ping more often are sent GOAWAY (too_many_pings); the
// generated client pings every 20s, above this floor.
const KeepaliveMinTime = 10 * time.Second

// HandshakeTimeout bounds a new connection's HTTP/2 handshake (and TLS,
// with credentials). grpc-go's default of 120 s lets a connection that
// sends nothing (a port scan, a load balancer's TCP check, a client that
// vanished mid-connect) hold GracefulStop and Stop that long; a real
// client's handshake is one round trip.
const HandshakeTimeout = 5 * time.Second

// MaxConcurrentStreams caps the calls and streams open at once on one
// connection, so that one client cannot hold the server's memory with
// streams; a client that reaches it queues further calls until one ends.
// It is far above what a balanced client keeps on one pod.
const MaxConcurrentStreams = 1000

// Config is what New needs besides the services.
type Config struct {
	// MaxConnectionAge makes every client reconnect, and so re-resolve DNS,
	// periodically: the only way a round_robin client learns about new
	// replicas after a scale-up, because grpc-go re-resolves only when a
	// connection closes.
	MaxConnectionAge time.Duration
	// MaxConnectionAgeGrace lets calls and streams in flight on an aged
	// connection finish. It has nothing to do with shutdown, which ends
	// streams itself and is bounded by the shutdown timeout; set it above
	// the longest stream.
	MaxConnectionAgeGrace time.Duration
	// Reflection serves grpc.reflection, so that tools such as grpcurl can
	// list and call the API without its protos. It also tells anyone who
	// reaches the port what the API is, so production leaves it off.
	Reflection bool
	Health     *health.Server
	Metrics    *metrics.Metrics
	// Active counts the calls in flight, for the shutdown's report.
	Active *lifecycle.Active
	// Tracing gives every call but health checks and reflection a server
	// span, in the caller's trace when the call carries W3C trace context.
	Tracing bool
}

// New returns a gRPC server with the services and grpc.health.v1
// registered, and reflection if cfg asks for it. Each service is a function
// that registers one, such as a generated RegisterXServer bound to its
// implementation. Interceptors run outermost first: the
// in-flight count, metrics, the access log (which leaves out health checks),
// then panic recovery, so that a panic is logged and counted as the Internal
// error it becomes.
func New(cfg Config, services ...func(grpc.ServiceRegistrar)) *grpc.Server {
	// The access log interceptor builds every call's fields before glogLog
	// can drop them, which cost a fifth of a call's CPU under load; below
	// -v=1 it is skipped, and failedUnary and failedStream log the failures.
	if cfg.Active == nil {
		cfg.Active = new(lifecycle.Active)
	}
	accessLog := selector.MatchFunc(func(_ context.Context, c interceptors.CallMeta) bool {
		return c.Service != healthpb.Health_ServiceDesc.ServiceName && bool(glog.V(1))
	})
	logger := logging.LoggerFunc(glogLog)
	logOpts := []logging.Option{logging.WithLogOnEvents(logging.FinishCall), logging.WithLevels(codeToLevel),
		logging.WithFieldsFromContext(traceFields)}
	recoverOpts := []recovery.Option{recovery.WithRecoveryHandler(func(p any) error {
		glog.Errorf("grpc: panic: %v\n%s", p, debug.Stack())
		return status.Error(codes.Internal, "internal error")
	})}
	opts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(
			cfg.Active.UnaryServerInterceptor(),
			cfg.Metrics.GRPC.UnaryServerInterceptor(),
			selector.UnaryServerInterceptor(logging.UnaryServerInterceptor(logger, logOpts...), accessLog),
			failedUnary,
			recovery.UnaryServerInterceptor(recoverOpts...),
		),
		grpc.ChainStreamInterceptor(
			cfg.Active.StreamServerInterceptor(),
			cfg.Metrics.GRPC.StreamServerInterceptor(),
			selector.StreamServerInterceptor(logging.StreamServerInterceptor(logger, logOpts...), accessLog),
			failedStream,
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
		grpc.ConnectionTimeout(HandshakeTimeout),
		grpc.MaxConcurrentStreams(MaxConcurrentStreams),
	}
	if cfg.Tracing {
		opts = append(opts, grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithFilter(traced))))
	}
	s := grpc.NewServer(opts...)
	for _, register := range services {
		register(s)
	}
	healthpb.RegisterHealthServer(s, cfg.Health)
	if cfg.Reflection {
		reflection.Register(s)
	}
	cfg.Metrics.GRPC.InitializeMetrics(s)
	return s
}

// traced leaves health checks and reflection out of the traces: probes and
// tools would otherwise outnumber the calls that matter.
func traced(info *stats.RPCTagInfo) bool {
	return !strings.HasPrefix(info.FullMethodName, "/"+healthpb.Health_ServiceDesc.ServiceName+"/") &&
		!strings.HasPrefix(info.FullMethodName, "/grpc.reflection.")
}

// Services are the names of the services registered on s, other than
// grpc.health.v1 and reflection, sorted: the names that grpc.health.v1
// reports on beside the whole server ("").
func Services(s *grpc.Server) []string {
	var names []string
	for name := range s.GetServiceInfo() {
		if name == healthpb.Health_ServiceDesc.ServiceName || strings.HasPrefix(name, "grpc.reflection.") {
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
