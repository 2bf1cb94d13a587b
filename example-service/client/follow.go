package client

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	exampleservicev1 "github.com/zerodrop/zerodrop/example-service/api/exampleservice/v1"
)

// Follow runs a Watch and calls f with each event until ctx ends, f returns
// an error, or the stream fails for good. A nil req is an empty one. When a
// stream breaks with UNAVAILABLE (its pod drained, or the connection died),
// Follow opens a new one with after_sequence set to the last event f got, on
// whichever pod is ready: the server replays what was missed, so f sees
// every event exactly once and in order.
//
// The server replays at most 1000 events (see WatchRequest.after_sequence).
// If a stream opened with after_sequence, Follow's or the caller's, is
// refused with OUT_OF_RANGE because more events than that went by, Follow
// returns an error that matches ErrGap, and keeps the server's status: the
// events in between are lost, and only a new Follow without after_sequence
// can carry on, from the current event.
//
// Follow gives up after the configured number of attempts in a row that
// deliver nothing (WithMaxAttempts), counted afresh after every stream that
// delivered events, with the backoff of unary retries between them;
// WithOnRetry sees each resume, with 1 plus the number of streams in a row
// that delivered nothing as its attempt. Opening a stream waits for a ready
// pod (WaitForReady), bounded by ctx.
func (c *Client) Follow(ctx context.Context, req *exampleservicev1.WatchRequest, f func(*exampleservicev1.WatchResponse) error) error {
	if req == nil {
		req = &exampleservicev1.WatchRequest{}
	} else {
		req = proto.Clone(req).(*exampleservicev1.WatchRequest)
	}
	backoff := backoffPolicy{base: c.opts.backoff, max: c.opts.maxBackoff}
	var failed uint // streams in a row that delivered nothing
	for {
		resumed := req.GetAfterSequence() > 0
		delivered, err := c.followOnce(ctx, req, f)
		switch {
		case err == nil || errors.Is(err, errStop):
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case !errors.As(err, new(*streamError)):
			return err // f's own error
		case resumed && !delivered && status.Code(err) == codes.OutOfRange:
			return fmt.Errorf("%w after event %d: %w", ErrGap, req.GetAfterSequence(), err)
		case status.Code(err) != codes.Unavailable:
			return err
		}
		if delivered {
			failed = 0
		} else {
			failed++
		}
		if failed >= c.opts.maxAttempts {
			return fmt.Errorf("watch: %d attempts in a row delivered nothing: %w", failed, err)
		}
		if err := sleep(ctx, backoff.wait(max(failed, 1)-1)); err != nil {
			return err
		}
		if c.opts.onRetry != nil {
			c.opts.onRetry(exampleservicev1.Greeter_Watch_FullMethodName, failed+1, err)
		}
	}
}

// ErrGap is what Follow's error matches when the server could no longer
// replay the events since the last one delivered: they are lost.
var ErrGap = errors.New("watch: events were lost, more than the server replays")

// errStop is how a stream that ended with OK reports itself to Follow.
var errStop = errors.New("the watch ended")

// streamError marks an error of the stream, as opposed to one of f.
type streamError struct{ err error }

func (e *streamError) Error() string { return e.err.Error() }

func (e *streamError) Unwrap() error { return e.err }

// GRPCStatus lets status.Code see through the wrapper.
func (e *streamError) GRPCStatus() *status.Status { return status.Convert(e.err) }

// followOnce runs one stream, advancing req.AfterSequence past every event
// delivered to f, and reports whether it delivered any.
func (c *Client) followOnce(ctx context.Context, req *exampleservicev1.WatchRequest, f func(*exampleservicev1.WatchResponse) error) (delivered bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.GreeterClient.Watch(ctx, req, grpc.WaitForReady(true))
	if err != nil {
		return false, &streamError{err}
	}
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return delivered, errStop
		}
		if err != nil {
			return delivered, &streamError{err}
		}
		if err := f(msg); err != nil {
			return delivered, err
		}
		delivered = true
		req.AfterSequence = msg.GetSequence()
	}
}
