package load

import (
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"

	drillv1 "github.com/zerodrop/zerodrop/example-service/api/exampleservice/drill/v1"
	"github.com/zerodrop/zerodrop/example-service/client"
)

// StreamClient keeps Streams Watch streams open for the whole run, each
// through its own generated client (its own connections, as separate
// services would have) and its Follow, which resumes a cut stream on
// another pod from the last event it delivered. Every event is recorded and
// checked against the one before it on the same stream: the sequence must
// go up by exactly one, so a lost event shows as a gap and a replayed one as
// a duplicate, whatever pod sent it.
type StreamClient struct {
	Name   string
	Target string
	Route
	Streams  int
	Interval time.Duration
	// Fallback is the generated client's WithFallback target, if any.
	Fallback string
}

// StreamEvent is one thing that happened on a stream.
type StreamEvent struct {
	Client int           `json:"c"`
	Stream int           `json:"s"`
	At     time.Duration `json:"at"` // since the load started
	Kind   string        `json:"k"`  // one of the Stream* kinds
	Seq    uint64        `json:"seq,omitempty"`
	// Missing is how many sequence numbers a gap skipped.
	Missing uint64 `json:"miss,omitempty"`
	// Delay is how long after its interval began an event arrived: about
	// nothing on a healthy stream, the time to resume for a replayed one.
	Delay time.Duration `json:"delay,omitempty"`
	Host  string        `json:"host,omitempty"` // the pod that sent the event
	Error string        `json:"err,omitempty"`
}

// Stream event kinds.
const (
	StreamOK        = "event"     // the next sequence, as expected
	StreamGap       = "gap"       // sequences were skipped: events lost
	StreamDuplicate = "duplicate" // a sequence at or below the last one
	StreamResume    = "resume"    // Follow reopened a broken stream
	StreamEnded     = "ended"     // Follow gave up: the stream failed
)

// Describe implements Client.
func (c StreamClient) Describe() Info {
	return Info{Name: c.Name, Protocol: "stream", Rate: c.Streams * int(time.Second/c.Interval), Retries: true, Tier: c.Tier, Path: c.Path,
		Mode: fmt.Sprintf("%d Watch streams (one event every %v each), each through its own example-service/client and Follow on the headless Service, the ClusterIP as fallback", c.Streams, c.Interval),
	}
}

// Events returns a copy of the stream events recorded so far.
func (r *Recorder) Events() []StreamEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]StreamEvent(nil), r.events...)
}

func (r *Recorder) addEvent(e StreamEvent) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (c StreamClient) run(ctx context.Context, rec *Recorder, idx int, _ func() bool) {
	var wg sync.WaitGroup
	for s := range c.Streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.follow(ctx, rec, idx, s)
		}()
	}
	wg.Wait()
}

// follow runs one stream until ctx ends. Should Follow give up (every pod
// gone for longer than its attempts last), that is recorded and the stream
// starts again after the last event, so that the check goes on.
func (c StreamClient) follow(ctx context.Context, rec *Recorder, idx, stream int) {
	ev := func(kind string) StreamEvent {
		return StreamEvent{Client: idx, Stream: stream, At: time.Since(rec.start), Kind: kind}
	}
	opts := []client.Option{client.WithOnRetry(func(_ string, _ uint, err error) {
		e := ev(StreamResume)
		e.Error = grpcError(err)
		rec.addEvent(e)
	}), client.WithDialOptions(grpc.WithStatsHandler(&tracker{rec: rec, client: idx}))}
	if c.Fallback != "" {
		opts = append(opts, client.WithFallback(c.Fallback))
	}
	cl, err := client.New(ctx, c.Target, opts...)
	if err != nil {
		e := ev(StreamEnded)
		e.Error = err.Error()
		rec.addEvent(e)
		return
	}
	defer cl.Close()
	interval := uint64(c.Interval / time.Millisecond)
	var last uint64
	for ctx.Err() == nil {
		// Follow resumes after the last event it delivered; a new Follow,
		// after one gave up, after the last event of any.
		from := last
		open := func(ctx context.Context, prev *drillv1.WatchResponse, opts ...grpc.CallOption) (grpc.ServerStreamingClient[drillv1.WatchResponse], error) {
			req := &drillv1.WatchRequest{IntervalMs: uint32(interval), AfterSequence: from}
			if prev != nil {
				req.AfterSequence = prev.GetSequence()
			}
			return drillv1.NewDrillClient(cl.Conn()).Watch(ctx, req, opts...)
		}
		err := client.Follow(ctx, cl, drillv1.Drill_Watch_FullMethodName, open, func(m *drillv1.WatchResponse) error {
			seq := m.GetSequence()
			e := ev(StreamOK)
			e.Seq, e.Host = seq, m.GetHostname()
			e.Delay = time.Since(time.UnixMilli(int64(seq * interval)))
			switch {
			case last == 0 || seq == last+1:
			case seq > last+1:
				e.Kind, e.Missing = StreamGap, seq-last-1
			default:
				e.Kind = StreamDuplicate
			}
			rec.addEvent(e)
			last = max(last, seq)
			return nil
		})
		if ctx.Err() != nil {
			return
		}
		e := ev(StreamEnded)
		if err != nil {
			e.Error = grpcError(err)
		} else {
			e.Error = "the server ended the stream with OK"
		}
		rec.addEvent(e)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second): // paces restarts after a failure
		}
	}
}
