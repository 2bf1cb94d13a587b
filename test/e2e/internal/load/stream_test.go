package load

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	drillv1 "github.com/zerodrop/zerodrop/example-service/api/exampleservice/drill/v1"
)

// scripted is a drill whose Watch misbehaves on purpose: the first stream
// sends 10 and 11 and breaks with UNAVAILABLE; the resumed one skips 12,
// sends 13 twice and breaks too; the third stays open. The harness must see
// resumes, a gap and a duplicate.
type scripted struct {
	drillv1.UnimplementedDrillServer
	calls chan uint64 // after_sequence of each call
}

func (g *scripted) Watch(req *drillv1.WatchRequest, stream drillv1.Drill_WatchServer) error {
	g.calls <- req.GetAfterSequence()
	send := func(seq uint64) error {
		return stream.Send(&drillv1.WatchResponse{Sequence: seq, Hostname: "pod"})
	}
	if req.GetAfterSequence() == 0 {
		for _, seq := range []uint64{10, 11} {
			if err := send(seq); err != nil {
				return err
			}
		}
		return status.Error(codes.Unavailable, "draining")
	}
	if req.GetAfterSequence() == 11 {
		for _, seq := range []uint64{13, 13} {
			if err := send(seq); err != nil {
				return err
			}
		}
		return status.Error(codes.Unavailable, "draining")
	}
	<-stream.Context().Done()
	return stream.Context().Err()
}

func TestStreamClientSeesResumesGapsAndDuplicates(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	g := &scripted{calls: make(chan uint64, 8)}
	drillv1.RegisterDrillServer(srv, g)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := StreamClient{Name: "w", Target: "passthrough:///" + lis.Addr().String(), Streams: 1, Interval: time.Second}
	rec, wait := Run(ctx, []Client{c}, 30*time.Second, 1)
	// The third call's after_sequence shows that the client took in both
	// events of the second stream before it resumed.
	for _, want := range []uint64{0, 11, 13} {
		select {
		case got := <-g.calls:
			if got != want {
				t.Fatalf("Watch called with after_sequence %d, want %d", got, want)
			}
		case <-ctx.Done():
			t.Fatal("the stream was not resumed")
		}
	}
	cancel()
	wait()
	var kinds []string
	for _, e := range rec.Events() {
		kinds = append(kinds, e.Kind)
	}
	want := []string{StreamOK, StreamOK, StreamResume, StreamGap, StreamDuplicate, StreamResume}
	if !slices.Equal(kinds, want) {
		t.Fatalf("events %v, want %v", kinds, want)
	}
	if gap := rec.Events()[3]; gap.Seq != 13 || gap.Missing != 1 {
		t.Errorf("gap %+v, want seq 13 with 1 missing", gap)
	}
}
