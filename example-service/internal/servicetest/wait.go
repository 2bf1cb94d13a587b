package servicetest

import "time"

// changes wakes everyone waiting on a value each time it changes. Its owner
// guards it with the same mutex as the value.
type changes struct{ ch chan struct{} }

func newChanges() changes { return changes{ch: make(chan struct{})} }

// notify wakes the waiters; call it with the owner's mutex held.
func (c *changes) notify() {
	close(c.ch)
	c.ch = make(chan struct{})
}

// next is closed at the next change; read it with the owner's mutex held.
func (c *changes) next() <-chan struct{} { return c.ch }

// waitUntil waits until check reports that its condition holds, and reports
// whether it did within timeout. check returns the condition and, read under
// the same lock, the channel of the next change: nothing is polled, and no
// change between the check and the wait is missed.
func waitUntil(timeout time.Duration, check func() (ok bool, next <-chan struct{})) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		ok, next := check()
		if ok {
			return true
		}
		select {
		case <-next:
		case <-deadline.C:
			return false
		}
	}
}
