package load

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	drillv1 "github.com/zerodrop/zerodrop/example-service/api/exampleservice/drill/v1"
)

// TestGRPCErrorClasses checks that failures group into a few classes, with
// no pod or Service address in them, so that the report counts them.
func TestGRPCErrorClasses(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial tcp 10.218.0.36:9090: connect: connection refused"`), "grpc Unavailable: connection refused"},
		{status.Error(codes.Unavailable, `max retries exhausted: failed after 4 attempts: rpc error: code = Unavailable desc = error reading from server: EOF`), "grpc Unavailable: retries exhausted, last: EOF"},
		{status.Error(codes.Unavailable, `dial 10.217.0.5:9090 weird`), "grpc Unavailable: dial ADDR weird"},
		{status.Error(codes.Unavailable, `error reading from server: read tcp 10.217.0.1:40000->10.217.0.5:9090: read: connection timed out`), "grpc Unavailable: connection timed out"},
		{errors.New("plain"), "plain"},
	} {
		if got := grpcError(tc.err); got != tc.want {
			t.Errorf("grpcError(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// hostnamed answers Work with a fixed hostname, as a pod does with its name.
type hostnamed struct {
	drillv1.UnimplementedDrillServer
}

func (hostnamed) Work(context.Context, *drillv1.WorkRequest) (*drillv1.WorkResponse, error) {
	return &drillv1.WorkResponse{Version: "1", Hostname: "pod-a"}, nil
}

// TestGRPCRecordsPeersAndConnections: each call records the address and
// the connection its attempt went out on, and the pod that answered; each connection records its
// opening and, once the load stops, its closing, with the same address. A
// partition's report is made of these.
func TestGRPCRecordsPeersAndConnections(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	drillv1.RegisterDrillServer(srv, hostnamed{})
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	c := GRPCClient{Name: "g", Target: lis.Addr().String(), Rate: 200, Conns: 1, Timeout: 2 * time.Second, MaxInFlight: 20}
	rec, wait := Run(context.Background(), []Client{c}, 5*time.Second, 10)
	wait()
	samples := rec.Samples()
	if len(samples) != 10 {
		t.Fatalf("%d samples, want 10", len(samples))
	}
	for _, s := range samples {
		if !s.OK || s.Host != "pod-a" || len(s.Tries) != 1 || s.Tries[0].Peer != "127.0.0.1" || s.Tries[0].At < s.At {
			t.Fatalf("sample %+v: want one try to 127.0.0.1, sent after the call began, answered by pod-a", s)
		}
	}
	conns := rec.Conns()
	if len(conns) != 2 || conns[0].Closed || !conns[1].Closed || conns[0].ID != conns[1].ID || conns[0].Peer != "127.0.0.1" || conns[1].At < conns[0].At {
		t.Fatalf("connection events %+v, want one connection to 127.0.0.1 opened, then closed", conns)
	}
	if id := samples[0].Tries[0].Conn; id != conns[0].ID {
		t.Errorf("the try went out on connection %d, want %d", id, conns[0].ID)
	}
}
