package client

import "sync"

// Retry throttling, as gRFC A6's retryThrottling defines it: every failed
// attempt costs a token (UNAVAILABLE, RESOURCE_EXHAUSTED, no answer within
// the per-attempt timeout, or a pushback that forbids a retry), every
// success earns back TokenRatio of one, and retries stop while the bucket is
// at or below half full. When most calls
// fail (every pod overloaded, a dependency down), retries would multiply the
// load by the number of attempts just when the servers can least take it;
// the budget caps them at about one retry per 1/TokenRatio successes.
//
// The bucket is larger than gRFC A6's example of 10 because one pod's loss
// fails every call in flight on it at once: a SIGKILLed pod of three, at
// 400 calls/s of 100 ms each, cuts about 40 calls, and each deserves its
// retry. Half of 100 tokens covers that burst; a lasting storm still gets
// only those 50 retries, then one per ten successes.
const (
	DefaultMaxTokens  = 100
	DefaultTokenRatio = 0.1
)

// budget is a token bucket shared by every call of a Client. A budget of
// no tokens is off: it always allows a retry.
type budget struct {
	mu         sync.Mutex
	tokens     float64
	max, ratio float64
}

func newBudget(maxTokens, ratio float64) *budget {
	return &budget{tokens: maxTokens, max: maxTokens, ratio: ratio}
}

func (b *budget) success() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tokens = min(b.max, b.tokens+b.ratio)
}

func (b *budget) failure() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tokens = max(0, b.tokens-1)
}

// allows reports whether a retry may be made now.
func (b *budget) allows() bool {
	if b.max <= 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tokens > b.max/2
}
