package client

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestEjector: ejectAfter per-attempt timeouts in a row pass a pod over;
// other errors do not count; at most a third of the ready pods are passed
// over at once; a success takes a pod back.
func TestEjector(t *testing.T) {
	e := &ejector{strikes: map[string]int{}, until: map[string]time.Time{}}
	timedOut, cancel := context.WithTimeoutCause(context.Background(), 0, errAttemptTimeout)
	defer cancel()
	<-timedOut.Done()
	deadline := status.Error(codes.DeadlineExceeded, "attempt timed out")
	callerGone, cancelCaller := context.WithCancel(context.Background())
	cancelCaller()

	for range ejectAfter - 1 {
		e.done("a", timedOut, deadline, 3)
	}
	e.done("a", callerGone, status.Error(codes.Canceled, "the caller left"), 3)
	e.done("a", context.Background(), status.Error(codes.NotFound, "no such item"), 3)
	if e.passedOver(time.Now())["a"] {
		t.Fatal("a pod was passed over before ejectAfter timeouts")
	}
	e.done("a", timedOut, deadline, 3)
	if !e.passedOver(time.Now())["a"] {
		t.Fatal("a pod with ejectAfter timeouts in a row was not passed over")
	}
	for range ejectAfter {
		e.done("b", timedOut, deadline, 3)
	}
	if e.passedOver(time.Now())["b"] {
		t.Error("two of three ready pods were passed over at once")
	}
	if e.passedOver(time.Now().Add(ejectFor + time.Millisecond))["a"] {
		t.Error("a pod was still passed over after ejectFor")
	}
	for range ejectAfter {
		e.done("b", timedOut, deadline, 3)
	}
	if !e.passedOver(time.Now())["b"] {
		t.Fatal("b was not passed over once a was taken back")
	}
	e.done("b", context.Background(), nil, 3)
	if e.passedOver(time.Now())["b"] {
		t.Error("a pod that answered is still passed over")
	}
}
