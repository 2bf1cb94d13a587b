package servicetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptrace"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	drillv1 "github.com/zerodrop/zerodrop/example-service/api/exampleservice/drill/v1"
)

// Kind is a kind of client.
type Kind string

// The clients a rollout must not hurt.
const (
	// HTTPFresh opens a new connection for every request.
	HTTPFresh Kind = "http-fresh"
	// HTTPKeepAlive reuses one connection per lane for as long as the server
	// keeps it open, even after its backend stops receiving new connections,
	// like a pooled client behind kube-proxy.
	HTTPKeepAlive Kind = "http-keepalive"
	// GRPC is a plain gRPC client per lane: one long-lived connection,
	// re-dialled through the balancer when the server closes it.
	GRPC Kind = "grpc"
)

// Load sends a constant rate of requests of each kind through a Balancer.
// New connections go wherever the balancer routes at the moment they are
// dialled, as kube-proxy routes connections; established ones stay where
// they are. While the balancer routes nowhere, no new work is sent: that is
// the single-replica case, where a real Service would have nowhere to send it
// either.
type Load struct {
	Balancer *Balancer
	Kinds    []Kind
	// Rate is requests per second for each kind, spread over Lanes.
	Rate  int
	Lanes int
	// Timeout bounds each request.
	Timeout time.Duration
	// MaxDuration bounds the whole run, whatever the test does.
	MaxDuration time.Duration
}

// Counts are the outcomes for one kind of client.
type Counts struct {
	Sent, OK, Failed int64
	// Retried counts requests that the Go HTTP client silently sent again on
	// a new connection after a kept-alive one failed. They did not fail, but
	// they show a connection closed under a request.
	Retried  int64
	Versions map[string]int64
	Errors   map[string]int64
}

func (c *Counts) String() string {
	s := fmt.Sprintf("sent %d, ok %d, failed %d, retried %d, versions %v", c.Sent, c.OK, c.Failed, c.Retried, c.Versions)
	if len(c.Errors) > 0 {
		var errs []string
		for e, n := range c.Errors {
			errs = append(errs, fmt.Sprintf("%dx %s", n, e))
		}
		sort.Strings(errs)
		s += "; errors: " + strings.Join(errs, "; ")
	}
	return s
}

// Run is a load in progress.
type Run struct {
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	counts  map[Kind]*Counts
	changed changes // on every outcome
}

// Start begins sending. Stop ends it.
func (l *Load) Start() *Run {
	ctx, cancel := context.WithTimeout(context.Background(), l.MaxDuration)
	r := &Run{cancel: cancel, counts: map[Kind]*Counts{}, changed: newChanges()}
	interval := time.Duration(float64(time.Second) * float64(l.Lanes) / float64(l.Rate))
	// Every kind's counts exist before any lane runs: lanes read the map.
	for _, kind := range l.Kinds {
		r.counts[kind] = &Counts{Versions: map[string]int64{}, Errors: map[string]int64{}}
	}
	for _, kind := range l.Kinds {
		for range l.Lanes {
			lane := l.newLane(kind)
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				defer lane.close()
				ticker := time.NewTicker(interval)
				defer ticker.Stop()
				for {
					select {
					case <-ctx.Done():
						return
					case <-ticker.C:
					}
					// Route now, as kube-proxy does when the request's
					// connection is made; a connection this request must
					// open goes to this backend.
					backend := l.Balancer.Pick()
					if backend == nil {
						continue
					}
					rctx, cancel := context.WithTimeout(context.WithValue(context.Background(), routedKey{}, backend), l.Timeout)
					version, retried, err := lane.do(rctx)
					cancel()
					r.record(kind, version, retried, err)
				}
			}()
		}
	}
	return r
}

func (r *Run) record(kind Kind, version string, retried bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.changed.notify()
	c := r.counts[kind]
	c.Sent++
	if retried {
		c.Retried++
	}
	if err != nil {
		c.Failed++
		c.Errors[errorClass(err)]++
		return
	}
	c.OK++
	c.Versions[version]++
}

// WaitFor waits until cond holds for the counts so far, and reports whether
// it did within timeout. It wakes on every outcome; cond must not keep the
// counts it is given.
func (r *Run) WaitFor(timeout time.Duration, cond func(map[Kind]*Counts) bool) bool {
	return waitUntil(timeout, func() (bool, <-chan struct{}) {
		r.mu.Lock()
		defer r.mu.Unlock()
		return cond(r.counts), r.changed.next()
	})
}

// WaitOK waits until every kind has had n successful requests, so that a
// test acts on a load that is really flowing rather than on a timer.
func (r *Run) WaitOK(t testing.TB, n int64) {
	t.Helper()
	if !r.WaitFor(30*time.Second, func(counts map[Kind]*Counts) bool {
		for _, c := range counts {
			if c.OK < n {
				return false
			}
		}
		return true
	}) {
		t.Fatalf("the load did not reach %d successful requests of each kind in 30s: %v", n, r.Snapshot())
	}
}

// Snapshot copies the counts so far.
func (r *Run) Snapshot() map[Kind]*Counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[Kind]*Counts{}
	for k, c := range r.counts {
		cp := *c
		cp.Versions, cp.Errors = maps.Clone(c.Versions), maps.Clone(c.Errors)
		out[k] = &cp
	}
	return out
}

// Stop ends the load, waits for requests in flight and returns the counts.
func (r *Run) Stop() map[Kind]*Counts {
	r.cancel()
	r.wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts
}

// errorClass shortens an error to what it says about the failure, without
// addresses, so that equal failures are counted together.
func errorClass(err error) string {
	s := err.Error()
	for _, class := range []string{"connection refused", "connection reset", "EOF", "timeout", "deadline exceeded", "Unavailable", "no routable backend"} {
		if strings.Contains(s, class) {
			return class
		}
	}
	return s
}

type lane struct {
	do    func(ctx context.Context) (version string, retried bool, err error)
	close func()
}

// routedKey carries the backend that the balancer picked for a request.
type routedKey struct{}

// dialRouted dials the backend picked for the request being sent, or, for a
// connection opened on its own (a gRPC reconnect), whichever backend the
// balancer routes to now.
func (l *Load) dialRouted(ctx context.Context, addr func(*Process) string) (net.Conn, error) {
	p, _ := ctx.Value(routedKey{}).(*Process)
	if p == nil {
		p = l.Balancer.Pick()
	}
	if p == nil {
		return nil, errors.New("no routable backend")
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr(p))
}

func (l *Load) newLane(kind Kind) *lane {
	if kind == GRPC {
		return l.grpcLane()
	}
	transport := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return l.dialRouted(ctx, func(p *Process) string { return p.HTTPAddr })
		},
		DisableKeepAlives:   kind == HTTPFresh,
		MaxIdleConnsPerHost: 1,
	}
	client := &http.Client{Transport: transport}
	return &lane{
		do: func(ctx context.Context) (string, bool, error) {
			var conns int
			trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { conns++ }}
			req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, "http://service/drill/work", nil)
			if err != nil {
				return "", false, err
			}
			resp, err := client.Do(req)
			if err != nil {
				return "", conns > 1, err
			}
			defer resp.Body.Close()
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				return "", conns > 1, err
			}
			if resp.StatusCode != http.StatusOK {
				return "", conns > 1, fmt.Errorf("status %s", resp.Status)
			}
			return resp.Header.Get("X-Version"), conns > 1, nil
		},
		close: transport.CloseIdleConnections,
	}
}

func (l *Load) grpcLane() *lane {
	conn, err := grpc.NewClient("passthrough:///service",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return l.dialRouted(ctx, func(p *Process) string { return p.GRPCAddr })
		}),
	)
	if err != nil {
		return &lane{do: func(context.Context) (string, bool, error) { return "", false, err }, close: func() {}}
	}
	client := drillv1.NewDrillClient(conn)
	return &lane{
		do: func(ctx context.Context) (string, bool, error) {
			resp, err := client.Work(ctx, &drillv1.WorkRequest{})
			if err != nil {
				return "", false, err
			}
			return resp.GetVersion(), false, nil
		},
		close: func() { _ = conn.Close() },
	}
}

// Total adds up counts of every kind.
func Total(counts map[Kind]*Counts) (sent, failed int64) {
	for _, c := range counts {
		sent += c.Sent
		failed += c.Failed
	}
	return sent, failed
}
