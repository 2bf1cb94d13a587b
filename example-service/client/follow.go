package client

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Open opens one stream of a resumable server-streaming method, resuming
// after last, the last message delivered (nil for the first stream), with
// opts added to the call's options. It is typically the generated client's
// method with the request's resume field set from last, e.g. for the
// drill's Watch:
//
//	func(ctx context.Context, last *drillv1.WatchResponse, opts ...grpc.CallOption) (grpc.ServerStreamingClient[drillv1.WatchResponse], error) {
//		req := &drillv1.WatchRequest{AfterSequence: last.GetSequence()}
//		return drillv1.NewDrillClient(c.Conn()).Watch(ctx, req, opts...)
//	}
type Open[T any] func(ctx context.Context, last *T, opts ...grpc.CallOption) (grpc.ServerStreamingClient[T], error)

// Follow runs the server stream that open opens, method being its full
// name ("/package.Service/Method") for WithOnRetry, and calls f with each
// message until ctx ends, f returns an error, or the stream fails for good.
// When a stream breaks with UNAVAILABLE (its pod drained, or the
// connection died), Follow opens a new one after the last message f got, on
// whichever pod is ready: a server that replays what was missed, as the
// drill's Watch does, makes f see every message exactly once and in order.
//
// A server that can no longer replay from where a stream asked to start
// refuses it with OUT_OF_RANGE, before any message: Follow then returns an
// error that matches ErrGap, and keeps the server's status. The messages in
// between are lost, and only a new Follow from the current message can
// carry on.
//
// Follow gives up after the configured number of attempts in a row that
// deliver nothing (WithMaxAttempts), counted afresh after every stream that
// delivered messages, with the backoff of unary retries between them;
// WithOnRetry sees each resume, with 1 plus the number of streams in a row
// that delivered nothing as its attempt. Opening a stream waits for a ready
// pod (WaitForReady), bounded by ctx.
func Follow[T any](ctx context.Context, c *Client, method string, open Open[T], f func(*T) error) error {
	backoff := backoffPolicy{base: c.opts.backoff, max: c.opts.maxBackoff}
	var last *T
	var failed uint // streams in a row that delivered nothing
	for {
		from := last
		delivered, err := followOnce(ctx, open, &last, f)
		switch {
		case err == nil || errors.Is(err, errStop):
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case !errors.As(err, new(*streamError)):
			return err // f's own error
		case !delivered && status.Code(err) == codes.OutOfRange:
			if from == nil {
				return fmt.Errorf("%w: %w", ErrGap, err)
			}
			return fmt.Errorf("%w after %v: %w", ErrGap, from, err)
		case status.Code(err) != codes.Unavailable:
			return err
		}
		if delivered {
			failed = 0
		} else {
			failed++
		}
		if failed >= c.opts.maxAttempts {
			return fmt.Errorf("%s: %d attempts in a row delivered nothing: %w", method, failed, err)
		}
		if err := sleep(ctx, backoff.wait(max(failed, 1)-1)); err != nil {
			return err
		}
		if c.opts.onRetry != nil {
			c.opts.onRetry(method, failed+1, err)
		}
	}
}

// ErrGap is what Follow's error matches when the server could no longer
// replay the events since the last one delivered: they are lost.
var ErrGap = errors.New("stream: messages were lost, more than the server replays")

// errStop is how a stream that ended with OK reports itself to Follow.
var errStop = errors.New("the stream ended")

// streamError marks an error of the stream, as opposed to one of f.
type streamError struct{ err error }

func (e *streamError) Error() string { return e.err.Error() }

func (e *streamError) Unwrap() error { return e.err }

// GRPCStatus lets status.Code see through the wrapper.
func (e *streamError) GRPCStatus() *status.Status { return status.Convert(e.err) }

// followOnce runs one stream, advancing *last past every message delivered
// to f, and reports whether it delivered any.
func followOnce[T any](ctx context.Context, open Open[T], last **T, f func(*T) error) (delivered bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := open(ctx, *last, grpc.WaitForReady(true))
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
		*last = msg
	}
}
