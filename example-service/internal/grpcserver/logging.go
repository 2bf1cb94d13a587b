package grpcserver

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/golang/glog"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

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
	fields := []any{"grpc.method", method, "grpc.code", code.String(), "grpc.error", err.Error(),
		"grpc.time_ms", fmt.Sprintf("%.3f", float64(time.Since(start).Microseconds())/1000)}
	glogLog(ctx, codeToLevel(code), "finished call", append(fields, traceFields(ctx)...)...)
}

// traceFields name the call's trace, when it is traced, so that a log line
// leads to the trace and back.
func traceFields(ctx context.Context) logging.Fields {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		return logging.Fields{"trace_id", sc.TraceID().String()}
	}
	return nil
}

func formatFields(fields []any) string {
	var s string
	for i := 0; i+1 < len(fields); i += 2 {
		s += fmt.Sprintf(" %v=%v", fields[i], fields[i+1])
	}
	return s
}
