package drill

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	drillv1 "github.com/zerodrop/zerodrop/example-service/api/exampleservice/drill/v1"
	"github.com/zerodrop/zerodrop/example-service/internal/servicetest"
)

func TestMain(m *testing.M) {
	// glog flushes its buffers from a goroutine that lives as long as the process.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/golang/glog.(*fileSink).flushDaemon"))
}

// serve runs d on a loopback listener and returns a client for it.
func serve(t *testing.T, d *Drill) drillv1.DrillClient {
	t.Helper()
	srv := grpc.NewServer()
	d.Register(srv)
	return drillv1.NewDrillClient(servicetest.Loopback(t, srv))
}

func TestDrill(t *testing.T) {
	stopping := make(chan struct{})
	c := serve(t, New("v1", "pod-a", stopping))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	done, err := c.Work(ctx, &drillv1.WorkRequest{WorkMs: 10})
	if err != nil || done.GetVersion() != "v1" || done.GetHostname() != "pod-a" {
		t.Errorf("Work = %v, %v", done, err)
	}
	if _, err := c.Work(ctx, &drillv1.WorkRequest{WorkMs: 60000}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("Work with too much work: %v, want InvalidArgument", err)
	}
	for want := int64(1); want <= 2; want++ {
		if n, err := c.Count(ctx, &drillv1.CountRequest{}); err != nil || n.GetValue() != want {
			t.Errorf("Count = %v, %v; want %d", n, err, want)
		}
	}
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	if _, err := c.Count(short, &drillv1.CountRequest{WorkMs: 5000}); status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("Count past its deadline: %v", err)
	}

	// A new watch starts at the current interval and counts up by one.
	stream, err := c.Watch(ctx, &drillv1.WatchRequest{IntervalMs: 10})
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if now := uint64(time.Now().UnixMilli() / 10); err != nil || first.GetSequence() > now || first.GetSequence()+100 < now {
		t.Fatalf("first Watch message = %v, %v; want about the current interval %d", first, err, now)
	}
	for want := first.GetSequence() + 1; want <= first.GetSequence()+3; want++ {
		if msg, err := stream.Recv(); err != nil || msg.GetSequence() != want {
			t.Fatalf("Watch message = %v, %v; want sequence %d", msg, err, want)
		}
	}

	// A resumed watch catches up at once on what it missed, in order: 50
	// events of 100 ms that were due come well before the 5 s they span.
	resumeAfter := uint64(time.Now().UnixMilli()/100) - 50
	resumed, err := c.Watch(ctx, &drillv1.WatchRequest{IntervalMs: 100, AfterSequence: resumeAfter})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for want := resumeAfter + 1; want <= resumeAfter+50; want++ {
		if msg, err := resumed.Recv(); err != nil || msg.GetSequence() != want {
			t.Fatalf("resumed Watch message = %v, %v; want sequence %d", msg, err, want)
		}
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("catching up on 50 missed events took %v; they were due, so they should come at once", took)
	}

	// Too far back to replay.
	old, err := c.Watch(ctx, &drillv1.WatchRequest{IntervalMs: 10, AfterSequence: first.GetSequence() - 5000})
	if err == nil {
		_, err = old.Recv()
	}
	if status.Code(err) != codes.OutOfRange {
		t.Errorf("Watch 5000 events back = %v, want OutOfRange", err)
	}

	// Stopping ends the stream with UNAVAILABLE: resume elsewhere.
	close(stopping)
	for {
		if _, err := stream.Recv(); err != nil {
			if status.Code(err) != codes.Unavailable {
				t.Errorf("Watch ended with %v, want UNAVAILABLE once the server is stopping", err)
			}
			break
		}
	}
}

// TestWatchBounds: a Watch cannot be made into a send loop, by a tiny
// interval or by an after_sequence so far ahead that its due time
// overflows, and an after_sequence a little ahead (another replica's clock
// was ahead) waits until its event is due.
func TestWatchBounds(t *testing.T) {
	c := serve(t, New("v1", "pod-a", nil))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	recv := func(req *drillv1.WatchRequest) (*drillv1.WatchResponse, error) {
		stream, err := c.Watch(ctx, req)
		if err != nil {
			return nil, err
		}
		return stream.Recv()
	}
	now := uint64(time.Now().UnixMilli() / 100)
	for _, req := range []*drillv1.WatchRequest{
		{IntervalMs: 1},
		{IntervalMs: 9},
		{IntervalMs: 100, AfterSequence: now + 1000},
		{IntervalMs: 100, AfterSequence: 1 << 62},
		{IntervalMs: 10, AfterSequence: math.MaxUint64},
	} {
		if msg, err := recv(req); status.Code(err) != codes.InvalidArgument {
			t.Errorf("Watch(%v) = %v, %v; want InvalidArgument", req, msg, err)
		}
	}
	start := time.Now()
	ahead := uint64(time.Now().UnixMilli()/100) + 3
	msg, err := recv(&drillv1.WatchRequest{IntervalMs: 100, AfterSequence: ahead})
	if err != nil || msg.GetSequence() != ahead+1 {
		t.Fatalf("Watch 3 events ahead = %v, %v; want sequence %d", msg, err, ahead+1)
	}
	if due := time.UnixMilli(int64(ahead+1) * 100); time.Now().Before(due) {
		t.Errorf("event %d came at %v, before it was due at %v", ahead+1, time.Now(), due)
	}
	t.Logf("an event 3 ahead came after %v", time.Since(start))
}

// TestWork: GET /drill/work answers with the replica and version, after
// sleeping as long as it is asked, within MaxSleep.
func TestWork(t *testing.T) {
	d := New("v1", "pod-a", nil)
	mux := http.NewServeMux()
	for _, r := range d.Routes() {
		mux.Handle(r.Pattern, r.Handler)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	for _, tt := range []struct {
		query string
		want  int
	}{
		{"", http.StatusOK},
		{"?sleep=1ms", http.StatusOK},
		{"?sleep=forever", http.StatusBadRequest},
		{"?sleep=-1s", http.StatusBadRequest},
		{"?sleep=2m", http.StatusBadRequest},
	} {
		resp, err := http.Get(srv.URL + "/drill/work" + tt.query)
		if err != nil {
			t.Fatal(err)
		}
		var body workResponse
		decodeErr := json.NewDecoder(resp.Body).Decode(&body)
		_ = resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("GET /drill/work%s = %d, want %d", tt.query, resp.StatusCode, tt.want)
		}
		if want := (workResponse{Version: "v1", Hostname: "pod-a"}); tt.want == http.StatusOK && (decodeErr != nil || body != want) {
			t.Errorf("GET /drill/work%s = %+v, %v; want %+v", tt.query, body, decodeErr, want)
		}
	}
}
