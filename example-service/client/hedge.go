package client

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Hedging, for idempotent calls: when an attempt has not answered within
// about the method's usual worst latency (its recent 99th percentile), a
// second attempt goes to another pod, and the first answer wins. A pod
// whose network went silent holds its calls until their per-attempt
// timeout; the hedge answers them from a pod that works, long before, and
// before their timeouts could spend the retry budget. A healthy service
// sees about one call in a hundred hedged.
//
// The attempt that lost goes on to its own end, within the per-attempt
// timeout, rather than being cancelled: a pod that never answers must still
// be seen to time out, three times in a row, for the balancer to pass it
// over (balancer.go). Hedges are throttled by the retry budget, as gRFC A6
// throttles hedged attempts, and no call has more than two attempts in
// flight at once.
//
// The delay follows the method's latency within hedgeEvery calls. When a
// whole service slows down at once, calls are hedged until it has: the
// extra load lasts about that many calls, and the budget stops it sooner if
// the attempts fail.

const (
	// hedgeWindow is how many recent successful attempts of a method the
	// delay is learned from.
	hedgeWindow = 256
	// hedgeEvery is how many new ones trigger learning it again.
	hedgeEvery = 64
	// MinHedgeDelay is the shortest delay before a hedge, so that a
	// method answered in microseconds is not hedged for scheduling noise.
	MinHedgeDelay = 10 * time.Millisecond
)

// hedger learns each method's latency, and says when to hedge its calls.
type hedger struct {
	fixed   time.Duration // WithHedgeDelay; 0 learns the delay
	ceiling time.Duration // half the per-attempt timeout: hedge before it
	methods sync.Map      // full method name → *latencies
}

// latencies are one method's recent successful attempts, in a ring.
type latencies struct {
	mu   sync.Mutex
	ring [hedgeWindow]time.Duration
	n    uint64
	p99  atomic.Int64 // nanoseconds; 0 until hedgeEvery attempts are seen
}

func (h *hedger) of(method string) *latencies {
	if l, ok := h.methods.Load(method); ok {
		return l.(*latencies)
	}
	l, _ := h.methods.LoadOrStore(method, &latencies{})
	return l.(*latencies)
}

// delay is how long an attempt of method may go unanswered before a hedge.
// Until the method's latency is known, it is the ceiling.
func (h *hedger) delay(method string) time.Duration {
	if h.fixed > 0 {
		return h.fixed
	}
	p99 := time.Duration(h.of(method).p99.Load())
	if p99 == 0 {
		return h.ceiling
	}
	return min(max(p99, MinHedgeDelay), h.ceiling)
}

// observe records a successful attempt's latency.
func (h *hedger) observe(method string, d time.Duration) {
	if h.fixed > 0 {
		return
	}
	l := h.of(method)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ring[l.n%hedgeWindow] = d
	l.n++
	if l.n%hedgeEvery != 0 {
		return
	}
	seen := l.ring[:min(l.n, hedgeWindow)]
	sorted := slices.Clone(seen)
	slices.Sort(sorted)
	l.p99.Store(int64(sorted[(len(sorted)*99+99)/100-1]))
}
