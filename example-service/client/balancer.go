package client

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/base"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A pod whose network went silent (no FIN, no RST: packets just vanish)
// stays READY to gRPC until keepalive gives up, 20 s and more, and the
// cluster keeps naming it until its readiness probe has failed enough
// times. Round robin sends it a third of the calls all that while, and
// each waits out its per-attempt timeout: the retries then drain the
// budget, and calls fail. The client's own balancer is round robin over
// the ready pods with two changes that keep those calls whole:
//
//   - A retry or a hedge goes to a pod the call has not tried yet, when
//     there is one, instead of wherever round robin's turn falls.
//   - A pod on which ejectAfter attempts in a row waited out a deadline,
//     the per-attempt timeout or the caller's, after half the per-attempt
//     timeout or more, with no success between, is passed over for
//     ejectFor, as long as another ready pod can take its calls. At most a
//     third of the ready pods (at least one) are passed over at once, so
//     that a slow moment across the service cannot empty it; a pod passed
//     over that answers a call is taken back at once.
//
//   - With a fallback (WithFallback), an attempt for which every ready pod
//     is passed over or tried by its call goes through the ClusterIP instead,
//     which reaches pods that DNS does not name yet.
//
// Hedging (hedge.go) answers the calls held there meanwhile from another
// pod. The balancer keeps client-side health checking, as round_robin does.

// balancerName is the policy's registered name: the service's own, so that
// clients of several generated services, linked into one binary, never
// replace each other's.
const balancerName = "exampleservice_round_robin"

const (
	// ejectAfter is how many silent attempts in a row pass a pod over.
	// One or two are a slow call or a pause; a silent pod reaches three
	// within moments of its first.
	ejectAfter = 3
	// ejectFor is how long a pod is passed over: longer than the lag of the
	// readiness probe and of DNS that then remove a silent pod, so that it
	// is not tried again before they do.
	ejectFor = 10 * time.Second
)

func init() { balancer.Register(balancerBuilder{}) }

type balancerBuilder struct{}

func (balancerBuilder) Name() string { return balancerName }

// Build gives every connection its own record of timeouts.
func (balancerBuilder) Build(cc balancer.ClientConn, opts balancer.BuildOptions) balancer.Balancer {
	pb := &pickerBuilder{ej: newEjector()}
	return base.NewBalancerBuilder(balancerName, pb, base.Config{HealthCheck: true}).Build(cc, opts)
}

type pickerBuilder struct{ ej *ejector }

func (b *pickerBuilder) Build(info base.PickerBuildInfo) balancer.Picker {
	if len(info.ReadySCs) == 0 {
		return base.NewErrPicker(balancer.ErrNoSubConnAvailable)
	}
	p := &picker{ej: b.ej}
	for sc, i := range info.ReadySCs {
		p.ready = append(p.ready, readyPod{sc: sc, addr: i.Address.Addr})
	}
	return p
}

type readyPod struct {
	sc   balancer.SubConn
	addr string
}

type picker struct {
	ready []readyPod
	next  atomic.Uint32
	ej    *ejector
}

// Pick takes the next ready pod in turn that is neither passed over nor
// already tried by this call. Failing that, an attempt with a fallback that
// has a ready connection goes there: it fails here before it is sent, and
// routeUnary sends it on. The ClusterIP behind the fallback reaches every
// ready pod, those that a stale DNS answer leaves out too, so a client that
// knows only the pod that went silent still finds the others. Without a
// fallback, the attempt takes the best of the rest.
func (p *picker) Pick(info balancer.PickInfo) (balancer.PickResult, error) {
	call, _ := info.Ctx.Value(callKey{}).(*callState)
	n := len(p.ready)
	passed := p.ej.passedOver(time.Now())
	best := choose(n, int(p.next.Add(1)), func(i int) string { return p.ready[i].addr }, passed, call, nil)
	pod := p.ready[best]
	if (passed[pod.addr] || call.tried(pod.addr)) && routed(info.Ctx).fallbackReady() {
		return balancer.PickResult{}, errNoFreshPod
	}
	call.try(pod.addr)
	ctx, picked := info.Ctx, time.Now()
	return balancer.PickResult{SubConn: pod.sc, Done: func(d balancer.DoneInfo) {
		p.ej.done(pod.addr, call.silent(ctx, d.Err, time.Since(picked)), d.Err, max(1, n/3))
	}}, nil
}

// errNoFreshPod fails an attempt before it is sent, for the fallback to
// take it: every ready pod is passed over or tried by the call already.
var errNoFreshPod = errors.New("every ready pod is passed over or tried by this call: the attempt goes to the fallback")

func newEjector() *ejector {
	return &ejector{strikes: map[string]int{}, until: map[string]time.Time{}}
}

// choose returns which of n candidates, named by key, an attempt of call
// takes: of those neither passed over nor tried by the call, the first from
// start on, in turn, or, given load, the first of the least loaded; failing
// that, the best of the rest by the same rule.
func choose(n, start int, key func(int) string, passed map[string]bool, call *callState, load func(int) int32) int {
	best, bestRank, bestLoad := 0, 4, int32(0)
	for k := range n {
		i := (start + k) % n
		rank := 0
		if passed[key(i)] {
			rank += 2
		}
		if call.tried(key(i)) {
			rank++
		}
		var l int32
		if load != nil {
			l = load(i)
		}
		if rank < bestRank || rank == bestRank && l < bestLoad {
			best, bestRank, bestLoad = i, rank, l
		}
		if rank == 0 && l == 0 {
			break
		}
	}
	return best
}

// ejector counts each pod's per-attempt timeouts in a row and passes over
// the pods that reach ejectAfter.
type ejector struct {
	mu      sync.Mutex
	strikes map[string]int
	until   map[string]time.Time
	// snapshot is the set passed over, for picks to read without the lock.
	snapshot atomic.Pointer[passedSet]
}

type passedSet struct {
	pods  map[string]bool
	until time.Time // the earliest end of a pass-over in pods
}

func (e *ejector) passedOver(now time.Time) map[string]bool {
	s := e.snapshot.Load()
	if s == nil {
		return nil
	}
	if now.After(s.until) {
		e.mu.Lock()
		e.publish(now)
		e.mu.Unlock()
		if s = e.snapshot.Load(); s == nil {
			return nil
		}
	}
	return s.pods
}

// publish recomputes the snapshot; e.mu is held.
func (e *ejector) publish(now time.Time) {
	s := &passedSet{pods: map[string]bool{}}
	for addr, until := range e.until {
		if !now.Before(until) {
			delete(e.until, addr)
			continue
		}
		s.pods[addr] = true
		if s.until.IsZero() || until.Before(s.until) {
			s.until = until
		}
	}
	if len(s.pods) == 0 {
		e.snapshot.Store(nil)
		return
	}
	e.snapshot.Store(s)
}

// done records how an attempt on addr ended: silent if it waited for an
// answer that never came (callState.silent). At most limit addresses are
// passed over at once.
func (e *ejector) done(addr string, silent bool, err error, limit int) {
	if err != nil && !silent {
		return // not the pod's silence: the caller left, or the server said no
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	if err == nil {
		delete(e.strikes, addr)
		if _, ok := e.until[addr]; ok {
			delete(e.until, addr)
			e.publish(now)
		}
		return
	}
	e.strikes[addr]++
	if e.strikes[addr] < ejectAfter {
		return
	}
	active := 0
	for _, until := range e.until {
		if now.Before(until) {
			active++
		}
	}
	if active >= limit {
		return
	}
	delete(e.strikes, addr)
	e.until[addr] = now.Add(ejectFor)
	e.publish(now)
}

// callState is what the balancer knows of the call an attempt belongs to:
// the pods its attempts went to, and how long an attempt must wait to say
// that its pod is silent. Hedged attempts pick at the same time.
type callState struct {
	silentAfter time.Duration
	mu          sync.Mutex
	pods        []string
}

type callKey struct{}

func (c *callState) tried(addr string) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Contains(c.pods, addr)
}

func (c *callState) try(addr string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pods = append(c.pods, addr)
}

// silent says whether an attempt that ended with err, after waiting waited
// on its pod, shows the pod silent: a deadline, the per-attempt timeout's or
// the caller's, ended it, and it had waited at least silentAfter. A server
// that answers DEADLINE_EXCEEDED itself, a caller that cancels, and a
// deadline too short to tell a silent pod from a slow call do not count.
func (c *callState) silent(ctx context.Context, err error, waited time.Duration) bool {
	return c != nil && status.Code(err) == codes.DeadlineExceeded &&
		errors.Is(ctx.Err(), context.DeadlineExceeded) && waited >= c.silentAfter
}
