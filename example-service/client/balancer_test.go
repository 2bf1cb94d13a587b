package client

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestEjector: ejectAfter silent attempts in a row pass a pod over; other
// errors do not count; at most a third of the ready pods are passed over
// at once; a success takes a pod back.
func TestEjector(t *testing.T) {
	e := newEjector()
	deadline := status.Error(codes.DeadlineExceeded, "attempt timed out")

	for range ejectAfter - 1 {
		e.done("a", true, deadline, 1)
	}
	e.done("a", false, status.Error(codes.Canceled, "the caller left"), 1)
	e.done("a", false, status.Error(codes.NotFound, "no such item"), 1)
	if e.passedOver(time.Now())["a"] {
		t.Fatal("a pod was passed over before ejectAfter timeouts")
	}
	e.done("a", true, deadline, 1)
	if !e.passedOver(time.Now())["a"] {
		t.Fatal("a pod with ejectAfter timeouts in a row was not passed over")
	}
	for range ejectAfter {
		e.done("b", true, deadline, 1)
	}
	if e.passedOver(time.Now())["b"] {
		t.Error("two of three ready pods were passed over at once")
	}
	if e.passedOver(time.Now().Add(ejectFor + time.Millisecond))["a"] {
		t.Error("a pod was still passed over after ejectFor")
	}
	for range ejectAfter {
		e.done("b", true, deadline, 1)
	}
	if !e.passedOver(time.Now())["b"] {
		t.Fatal("b was not passed over once a was taken back")
	}
	e.done("b", false, nil, 1)
	if e.passedOver(time.Now())["b"] {
		t.Error("a pod that answered is still passed over")
	}
}

// TestSilentAttempt: an attempt shows its pod silent only when a deadline
// ended it, the per-attempt timeout's or the caller's, after a wait of at
// least silentAfter.
func TestSilentAttempt(t *testing.T) {
	c := &callState{silentAfter: time.Second}
	expired, cancel := context.WithTimeoutCause(context.Background(), 0, errAttemptTimeout)
	defer cancel()
	<-expired.Done()
	callerGone, cancelCaller := context.WithCancel(context.Background())
	cancelCaller()
	deadline := status.Error(codes.DeadlineExceeded, "context deadline exceeded")
	for _, tt := range []struct {
		name   string
		ctx    context.Context
		err    error
		waited time.Duration
		want   bool
	}{
		{"a deadline after a long wait", expired, deadline, time.Second, true},
		{"a deadline after a short wait", expired, deadline, 999 * time.Millisecond, false},
		{"the caller cancelled", callerGone, status.Error(codes.Canceled, "canceled"), time.Minute, false},
		{"the server's own DEADLINE_EXCEEDED", context.Background(), deadline, time.Minute, false},
		{"an answer", expired, nil, time.Minute, false},
	} {
		if got := c.silent(tt.ctx, tt.err, tt.waited); got != tt.want {
			t.Errorf("%s: silent = %v, want %v", tt.name, got, tt.want)
		}
	}
	if (*callState)(nil).silent(expired, deadline, time.Minute) {
		t.Error("an attempt of no known call (a stream) counted as silent")
	}
}

// TestChooseLeastLoaded: with loads, an attempt takes the least loaded of
// the candidates its call has not tried and that are not passed over, the
// next in turn of equals. A fallback connection on which calls wait with no
// answer for stallAfter weighs as a stalled one, and a silent ending weighs
// on it until it answers again or ejectFor passes.
func TestChooseLeastLoaded(t *testing.T) {
	key := fallbackKey
	loads := []int32{3, 1, 0, 0}
	load := func(i int) int32 { return loads[i] }
	if got := choose(4, 1, key, nil, nil, load); got != 2 {
		t.Errorf("chose %d, want 2: the first of the least loaded from 1 on", got)
	}
	call := &callState{}
	call.try(key(2))
	call.try(key(3))
	if got := choose(4, 0, key, map[string]bool{key(1): true}, call, load); got != 0 {
		t.Errorf("chose %d, want 0: the only one neither tried nor passed over, however loaded", got)
	}
	if got := choose(4, 0, key, nil, nil, nil); got != 0 {
		t.Errorf("chose %d without loads, want 0: the next in turn", got)
	}

	var l connLoad
	deadline := status.Error(codes.DeadlineExceeded, "attempt timed out")
	now := time.Now()
	l.began(now)
	if w := l.weight(now); w != 1 {
		t.Errorf("one attempt waiting weighs %d, want 1", w)
	}
	if w := l.weight(now.Add(stallAfter + time.Millisecond)); w != 1+silentWeight {
		t.Errorf("one attempt waiting stallAfter with no answer weighs %d, want 1+silentWeight (%d)", w, 1+silentWeight)
	}
	l.ended(true, deadline)
	if w := l.weight(time.Now()); w != silentWeight {
		t.Errorf("one silent ending weighs %d, want silentWeight (%d)", w, silentWeight)
	}
	if w := l.weight(time.Now().Add(ejectFor + time.Millisecond)); w != 0 {
		t.Errorf("a silent ending still weighs %d after ejectFor", w)
	}
	l.began(time.Now())
	l.ended(false, status.Error(codes.NotFound, "no such item"))
	if w := l.weight(time.Now()); w != silentWeight {
		t.Errorf("after an error that is not silence the record weighs %d, want it kept (%d)", w, silentWeight)
	}
	var m connLoad
	m.began(time.Now().Add(-stallAfter))
	m.began(time.Now())
	m.ended(false, status.Error(codes.NotFound, "no such item"))
	if w := m.weight(time.Now()); w != 1 {
		t.Errorf("a connection that just answered with an error weighs %d with one attempt waiting, want 1: it is not stalled", w)
	}
	m.began(time.Now())
	m.ended(false, status.Error(codes.Unavailable, "connection broken"))
	if w := m.weight(time.Now().Add(stallAfter + time.Millisecond)); w != 1+silentWeight {
		t.Errorf("a broken connection's failure counted as an answer: weight %d, want 1+silentWeight (%d)", w, 1+silentWeight)
	}

	l.began(time.Now())
	l.began(time.Now())
	l.ended(false, nil)
	if w := l.weight(time.Now()); w != 1 {
		t.Errorf("after an answer, with one attempt still waiting, the record weighs %d, want 1", w)
	}
	if w := l.weight(time.Now().Add(stallAfter + time.Millisecond)); w != 1+silentWeight {
		t.Errorf("with no answer for stallAfter since the last, one waiting attempt weighs %d, want 1+silentWeight (%d)", w, 1+silentWeight)
	}
}
