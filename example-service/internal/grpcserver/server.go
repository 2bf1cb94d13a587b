// Package grpcserver is example-service's gRPC API: the server options, interceptors
// and keepalive policy that let clients drain and rebalance, and the Greeter
// implementation.
package grpcserver

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
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

// Config is what New needs besides the Greeter.
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
}

// New returns a gRPC server with Greeter and grpc.health.v1 registered, and
// reflection if cfg asks for it. Interceptors run outermost first: the
// in-flight count, metrics, the access log (which leaves out health checks),
// then panic recovery, so that a panic is logged and counted as the Internal
// error it becomes.
func New(cfg Config, greeter exampleservicev1.GreeterServer) *grpc.Server {
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
	logOpts := []logging.Option{logging.WithLogOnEvents(logging.FinishCall), logging.WithLevels(codeToLevel)}
	recoverOpts := []recovery.Option{recovery.WithRecoveryHandler(func(p any) error {
		glog.Errorf("grpc: panic: %v\n%s", p, debug.Stack())
		return status.Error(codes.Internal, "internal error")
	})}
	s := grpc.NewServer(
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
	)
	exampleservicev1.RegisterGreeterServer(s, greeter)
	healthpb.RegisterHealthServer(s, cfg.Health)
	if cfg.Reflection {
		reflection.Register(s)
	}
	cfg.Metrics.GRPC.InitializeMetrics(s)
	return s
}

// codeToLevel makes every failure visible at the default verbosity: a
// successful call is Info (logged from -v=1), a failure the server caused is
// Error, and any other failure is Warn. go-grpc-middleware's default would
// log client errors such as InvalidArgument at Info, which -v=0 drops.
func codeToLevel(code codes.Code) logging.Level {
	switch code {
	case codes.OK:
		return logging.LevelInfo
	case codes.Unknown, codes.Unimplemented, codes.Internal, codes.DataLoss:
		return logging.LevelError
	default:
		return logging.LevelWarn
	}
}

// glogLog adapts go-grpc-middleware's logger to glog. Successful calls are
// logged only at -v=1, so that the access log costs nothing by default;
// failures are always logged. The verbosity is checked before the line is
// formatted: formatting every call's fields only to drop the line cost a
// sixth of a call's CPU under load.
func glogLog(_ context.Context, lvl logging.Level, msg string, fields ...any) {
	switch lvl {
	case logging.LevelDebug:
		if v := glog.V(2); v {
			v.InfoDepth(3, msg+formatFields(fields))
		}
	case logging.LevelInfo:
		if v := glog.V(1); v {
			v.InfoDepth(3, msg+formatFields(fields))
		}
	case logging.LevelWarn:
		glog.WarningDepth(3, msg+formatFields(fields))
	default:
		glog.ErrorDepth(3, msg+formatFields(fields))
	}
}

// failedUnary logs a failed call while the access log is off (below -v=1),
// so that failures are always logged; a successful call costs it a clock
// read.
func failedUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := handler(ctx, req)
	if err != nil && !glog.V(1) {
		logFailure(ctx, info.FullMethod, err, start)
	}
	return resp, err
}

// failedStream is failedUnary for streams.
func failedStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	start := time.Now()
	err := handler(srv, ss)
	if err != nil && !glog.V(1) {
		logFailure(ss.Context(), info.FullMethod, err, start)
	}
	return err
}

// logFailure writes the access log's line for a failed call, at the level the
// access log would use; health checks stay out of it, as they do there.
func logFailure(ctx context.Context, method string, err error, start time.Time) {
	if strings.HasPrefix(method, "/"+healthpb.Health_ServiceDesc.ServiceName+"/") {
		return
	}
	code := status.Code(err)
	glogLog(ctx, codeToLevel(code), "finished call",
		"grpc.method", method, "grpc.code", code.String(), "grpc.error", err.Error(),
		"grpc.time_ms", fmt.Sprintf("%.3f", float64(time.Since(start).Microseconds())/1000))
}

func formatFields(fields []any) string {
	var s string
	for i := 0; i+1 < len(fields); i += 2 {
		s += fmt.Sprintf(" %v=%v", fields[i], fields[i+1])
	}
	return s
}
