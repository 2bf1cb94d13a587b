package servicetest

import (
	"sync"
	"time"
)

// Balancer routes new work the way a Kubernetes Service does: only to backends
// whose readiness passed, and it learns of every change late. It polls each
// backend's /readyz every Poll and applies what it saw only after Lag, like
// the EndpointSlice controller and kube-proxy between them. A backend that has
// exited fails its probe like any other.
type Balancer struct {
	Poll, Lag time.Duration

	mu       sync.Mutex
	backends []*routed
	next     int
	changed  changes        // on every routing change
	wg       sync.WaitGroup // watchers and late updates not yet applied
	stop     chan struct{}
}

type routed struct {
	p        *Process
	routable bool
	removed  bool
}

// NewBalancer returns an empty balancer.
func NewBalancer(poll, lag time.Duration) *Balancer {
	return &Balancer{Poll: poll, Lag: lag, stop: make(chan struct{}), changed: newChanges()}
}

// Add starts watching p. It becomes routable once it is seen ready.
func (b *Balancer) Add(p *Process) {
	r := &routed{p: p}
	b.mu.Lock()
	b.backends = append(b.backends, r)
	b.mu.Unlock()
	b.wg.Add(1)
	go b.watch(r)
}

func (b *Balancer) watch(r *routed) {
	defer b.wg.Done()
	ticker := time.NewTicker(b.Poll)
	defer ticker.Stop()
	for {
		ready := r.p.Ready()
		b.later(func() { r.routable = ready && !r.removed })
		select {
		case <-b.stop:
			return
		case <-r.p.Exited():
			// One last late update, as for any failed probe, then forget it.
			b.later(func() { r.routable, r.removed = false, true })
			return
		case <-ticker.C:
		}
	}
}

// later applies update after Lag, as the endpoint machinery would.
func (b *Balancer) later(update func()) {
	b.wg.Add(1)
	time.AfterFunc(b.Lag, func() {
		defer b.wg.Done()
		b.mu.Lock()
		defer b.mu.Unlock()
		update()
		b.changed.notify()
	})
}

// Routable reports whether p currently receives new work.
func (b *Balancer) Routable(p *Process) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.routableLocked(p)
}

func (b *Balancer) routableLocked(p *Process) bool {
	for _, r := range b.backends {
		if r.p == p {
			return r.routable
		}
	}
	return false
}

// Pick returns the next routable backend in turn, or nil if there is none.
func (b *Balancer) Pick() *Process {
	b.mu.Lock()
	defer b.mu.Unlock()
	for range b.backends {
		r := b.backends[b.next%len(b.backends)]
		b.next++
		if r.routable {
			return r.p
		}
	}
	return nil
}

// WaitRoutable waits until p receives new work, or timeout passes. It wakes
// on every routing change.
func (b *Balancer) WaitRoutable(p *Process, timeout time.Duration) bool {
	return waitUntil(timeout, func() (bool, <-chan struct{}) {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.routableLocked(p), b.changed.next()
	})
}

// Close stops watching and waits for the watchers to end and for their late
// updates to be applied, so that nothing outlives the test.
func (b *Balancer) Close() {
	close(b.stop)
	b.wg.Wait()
}
