package metrics

import (
	"context"
	"errors"
	"io"
	"testing"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// services stands in for a grpc.Server's registered services.
type services map[string]grpc.ServiceInfo

func (s services) GetServiceInfo() map[string]grpc.ServiceInfo { return s }

// stream is a server stream that receives two messages, then io.EOF, and
// sends whatever it is given.
type stream struct {
	grpc.ServerStream
	ctx      context.Context
	received int
}

func (s *stream) Context() context.Context { return s.ctx }
func (s *stream) SendMsg(any) error        { return nil }
func (s *stream) RecvMsg(any) error {
	if s.received == 2 {
		return io.EOF
	}
	s.received++
	return nil
}

// TestGRPCSeriesMatchTheProvider holds GRPCServer to go-grpc-middleware's
// Prometheus provider, configured as the template configured it before
// GRPCServer: after the same calls, the two registries hold the same series
// with the same values.
func TestGRPCSeriesMatchTheProvider(t *testing.T) {
	registered := services{
		"pkg.v1.Orders": {Methods: []grpc.MethodInfo{
			{Name: "GetOrder"},
			{Name: "Watch", IsServerStream: true},
			{Name: "Upload", IsClientStream: true},
			{Name: "Chat", IsClientStream: true, IsServerStream: true},
		}},
		"grpc.health.v1.Health": {Methods: []grpc.MethodInfo{
			{Name: "Check"},
			{Name: "Watch", IsServerStream: true},
		}},
	}
	ours := NewGRPCServer()
	theirs := grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(
		grpcprom.WithHistogramBuckets(prometheus.DefBuckets),
	))
	ours.InitializeMetrics(registered)
	theirs.InitializeMetrics(registered)

	ctx := context.Background()
	unaryErrs := []error{
		nil, nil,
		status.Error(codes.InvalidArgument, "bad"),
		status.Error(codes.Unauthenticated, "who"),
		context.Canceled,
		context.DeadlineExceeded,
		errors.New("not a status"),
		status.Error(codes.Code(99), "beyond the known codes"),
	}
	type streamCall struct {
		method string
		info   grpc.StreamServerInfo
		err    error
	}
	streamCalls := []streamCall{
		{"/pkg.v1.Orders/Watch", grpc.StreamServerInfo{IsServerStream: true}, nil},
		{"/pkg.v1.Orders/Upload", grpc.StreamServerInfo{IsClientStream: true}, status.Error(codes.Internal, "oops")},
		{"/pkg.v1.Orders/Chat", grpc.StreamServerInfo{IsClientStream: true, IsServerStream: true}, nil},
		// Not registered: only the series the call touches appear.
		{"/pkg.v1.Late/Stream", grpc.StreamServerInfo{IsServerStream: true}, nil},
	}
	for _, m := range []struct {
		unary  grpc.UnaryServerInterceptor
		stream grpc.StreamServerInterceptor
	}{
		{ours.UnaryServerInterceptor(), ours.StreamServerInterceptor()},
		{theirs.UnaryServerInterceptor(), theirs.StreamServerInterceptor()},
	} {
		for _, method := range []string{"/pkg.v1.Orders/GetOrder", "/grpc.health.v1.Health/Check", "/pkg.v1.Late/Added"} {
			for _, want := range unaryErrs {
				info := &grpc.UnaryServerInfo{FullMethod: method}
				_, err := m.unary(ctx, "req", info, func(context.Context, any) (any, error) {
					if want != nil {
						return nil, want
					}
					return "resp", nil
				})
				if !errors.Is(err, want) {
					t.Fatalf("%s: the interceptor returned %v, want %v", method, err, want)
				}
			}
		}
		for _, c := range streamCalls {
			info := c.info
			info.FullMethod = c.method
			err := m.stream(nil, &stream{ctx: ctx}, &info, func(_ any, ss grpc.ServerStream) error {
				for ss.RecvMsg(nil) == nil {
				}
				for range 3 {
					_ = ss.SendMsg("msg")
				}
				return c.err
			})
			if !errors.Is(err, c.err) {
				t.Fatalf("%s: the interceptor returned %v, want %v", c.method, err, c.err)
			}
		}
	}

	got, want := gather(t, ours), gather(t, theirs)
	if len(got) != len(want) {
		t.Fatalf("%d metric families, want %d", len(got), len(want))
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Errorf("metric family %s differs from the provider's:\ngot  %v\nwant %v", want[i].GetName(), got[i], want[i])
		}
	}
}

// family is a gathered metric family.
type family interface {
	proto.Message
	GetName() string
}

// gather collects c's families with what depends on the clock left out:
// creation times, and the histograms' sums and buckets (their counts stay).
func gather(t *testing.T, c prometheus.Collector) []family {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]family, len(fams))
	for i, f := range fams {
		for _, m := range f.GetMetric() {
			if c := m.GetCounter(); c != nil {
				c.CreatedTimestamp = nil
			}
			if h := m.GetHistogram(); h != nil {
				h.CreatedTimestamp, h.SampleSum = nil, nil
				for _, b := range h.GetBucket() {
					b.CumulativeCount = nil
				}
			}
		}
		out[i] = f
	}
	return out
}
