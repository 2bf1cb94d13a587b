package client_test

// These tests run real example-service processes on loopback addresses of a random
// 127.x.y.0/24 of their own (so that test runs side by side never collide),
// all on one gRPC port, and a real DNS server on loopback that serves the
// headless Service's A records. The client resolves through grpc-go's own DNS
// resolver, and the tests change the records the way a headless Service's DNS
// changes during a rollout.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"

	drillv1 "github.com/zerodrop/zerodrop/example-service/api/exampleservice/drill/v1"
	"github.com/zerodrop/zerodrop/example-service/client"
	"github.com/zerodrop/zerodrop/example-service/internal/loadgen"
	"github.com/zerodrop/zerodrop/example-service/internal/servicetest"
)

const (
	serviceName = "example-service-headless.example-service.svc.cluster.local."
	drainDelay  = 500 * time.Millisecond
)

var binPath string

// drillOf is the drill's API through cl, as any API's generated client is.
func drillOf(cl *client.Client) drillv1.DrillClient { return drillv1.NewDrillClient(cl.Conn()) }

// TestMain runs the tests with the client's own DNS timings, not shorter
// ones: the rollouts below replace pods every second or so, as fast as
// MinResolutionInterval allows, which is the case it was chosen for.
func TestMain(m *testing.M) { os.Exit(servicetest.Main(m, &binPath)) }

// headlessDNS serves the A records of the headless Service.
type headlessDNS struct {
	mu    sync.Mutex
	addrs []string
	addr  string
	asked map[string]int // questions by "TYPE name", for the resolver's tests
}

func startDNS(t *testing.T) *headlessDNS {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &headlessDNS{addr: pc.LocalAddr().String(), asked: map[string]int{}}
	srv := &dns.Server{PacketConn: pc, Handler: h}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return h
}

// ServeDNS answers A queries for the Service with the current addresses, with
// TTL 0 like CoreDNS's minimum, and nothing else.
func (h *headlessDNS) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	resp := new(dns.Msg)
	resp.SetReply(req)
	for _, q := range req.Question {
		h.mu.Lock()
		h.asked[dns.TypeToString[q.Qtype]+" "+q.Name]++
		h.mu.Unlock()
		if q.Qtype != dns.TypeA || q.Name != serviceName {
			continue
		}
		h.mu.Lock()
		for _, a := range h.addrs {
			resp.Answer = append(resp.Answer, &dns.A{
				Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 0},
				A:   net.ParseIP(a),
			})
		}
		h.mu.Unlock()
	}
	_ = w.WriteMsg(resp)
}

func (h *headlessDNS) set(addrs ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.addrs = slices.Clone(addrs)
}

func (h *headlessDNS) add(addr string) { h.set(append(h.current(), addr)...) }

func (h *headlessDNS) remove(addr string) {
	h.set(slices.DeleteFunc(h.current(), func(a string) bool { return a == addr })...)
}

func (h *headlessDNS) current() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.addrs)
}

// cluster is a set of backends behind the DNS server, all on one gRPC port.
type cluster struct {
	t   *testing.T
	dns *headlessDNS
	// port is every backend's gRPC port. It has to be one port: DNS A records
	// carry addresses, not ports, just like a headless Service's. The first
	// backend lets the kernel choose it; the others bind it on addresses of
	// their own, and servicetest retries a start if it is ever taken.
	port     int
	subnet   string // "127.x.y."
	nextHost int
	extra    []string
	// cache, if set, is the caching DNS server clients ask instead of dns.
	cache *cachingDNS
	// opts are added to every client that load makes.
	opts []client.Option
	// headless, if set, is the target clients use instead of the headless
	// name in dns.
	headless string
}

func newCluster(t *testing.T, extraArgs ...string) *cluster {
	// Linux routes all of 127.0.0.0/8 to the loopback interface.
	subnet := fmt.Sprintf("127.%d.%d.", 1+rand.IntN(254), rand.IntN(256))
	return &cluster{t: t, dns: startDNS(t), subnet: subnet, nextHost: 2, extra: extraArgs}
}

// start runs a backend on the next loopback address and waits until it is
// ready; it is not yet in DNS.
func (c *cluster) start(version string) *servicetest.Process {
	host := c.subnet + strconv.Itoa(c.nextHost)
	c.nextHost++
	p := servicetest.Start(c.t, binPath, servicetest.Options{
		Host: host, GRPCPort: c.port, Version: version,
		ShutdownDelay: drainDelay, ShutdownTimeout: 2 * time.Second, Args: c.extra,
	})
	if c.port == 0 {
		_, port, _ := net.SplitHostPort(p.GRPCAddr)
		c.port, _ = strconv.Atoi(port)
	}
	p.WaitReady(c.t, 10*time.Second)
	return p
}

// serve starts n backends of version and publishes them in DNS.
func (c *cluster) serve(n int, version string) []*servicetest.Process {
	var ps []*servicetest.Process
	for range n {
		p := c.start(version)
		c.dns.add(host(p))
		ps = append(ps, p)
	}
	return ps
}

// roll replaces old with backends of version one at a time, changing DNS as
// a headless Service does: a new pod's address appears once it is ready, and
// an old pod's address disappears as it is told to stop. The pauses are the
// rollout's pace, not synchronisation: the client must cope with whatever it
// has or has not noticed by then.
func (c *cluster) roll(old []*servicetest.Process, version string) {
	for _, o := range old {
		p := c.start(version)
		c.dns.add(host(p))
		time.Sleep(300 * time.Millisecond) // the next pod's readiness
		c.dns.remove(host(o))
		o.Signal(c.t, syscall.SIGTERM)
		time.Sleep(700 * time.Millisecond) // the rollout moves on
	}
}

func host(p *servicetest.Process) string {
	h, _, _ := net.SplitHostPort(p.GRPCAddr)
	return h
}

func (c *cluster) target() string {
	if c.headless != "" {
		return c.headless
	}
	addr := c.dns.addr
	if c.cache != nil {
		addr = c.cache.addr
	}
	return fmt.Sprintf("dns://%s/%s:%d", addr, serviceName, c.port)
}

// clientLoad is a load in progress.
type clientLoad struct {
	report  <-chan loadgen.Report
	ok      atomic.Int64
	flowing chan struct{} // closed after warmupCalls successful calls
}

// warmupCalls is how many calls must succeed before a test disturbs the
// backends, so that it acts on a load that is really flowing.
const warmupCalls = 50

// waitFlowing waits until the load has had warmupCalls successful calls.
func (l *clientLoad) waitFlowing(t *testing.T) {
	t.Helper()
	select {
	case <-l.flowing:
	case <-time.After(30 * time.Second):
		t.Fatalf("the load made only %d successful calls in 30s", l.ok.Load())
	}
}

// load runs Work (or Count) at rate for d through a fresh client. Each
// call works for workMs on the server, to keep calls in flight.
func (c *cluster) load(method string, rate int, d time.Duration, workMs uint32) *clientLoad {
	c.t.Helper()
	var retries loadgen.Counter
	opts := append([]client.Option{client.WithOnRetry(retries.Retry), client.WithOnHedge(retries.Hedge), client.WithTimeout(3 * time.Second)}, c.opts...)
	cl, err := client.New(context.Background(), c.target(), opts...)
	if err != nil {
		c.t.Fatal(err)
	}
	out := make(chan loadgen.Report, 1)
	l := &clientLoad{report: out, flowing: make(chan struct{})}
	succeeded := func(err error) {
		if err == nil && l.ok.Add(1) == warmupCalls {
			close(l.flowing)
		}
	}
	go func() {
		defer cl.Close()
		out <- loadgen.Run(context.Background(), loadgen.Config{Rate: rate, Duration: d}, &retries, func(ctx context.Context) (string, error) {
			if method == "Count" {
				resp, err := drillOf(cl).Count(ctx, &drillv1.CountRequest{WorkMs: workMs})
				succeeded(err)
				return resp.GetHostname(), err
			}
			resp, err := drillOf(cl).Work(ctx, &drillv1.WorkRequest{WorkMs: workMs})
			succeeded(err)
			return resp.GetVersion(), err
		})
	}()
	return l
}

func logReport(t *testing.T, name string, r loadgen.Report) {
	t.Helper()
	t.Logf("%s: %d calls, %d failed, %d attempts (%d retries, %d hedges), codes %v, labels %v, p99 %v",
		name, r.Calls, r.Failed, r.Attempts, r.Retries, r.Hedges, r.Codes, r.Labels, r.P99)
}

// TestRollingRestart replaces 3 backends one at a time under constant load,
// changing DNS as a headless Service does: a new pod's address appears once
// it is ready, and an old pod's address disappears as it is told to stop.
func TestRollingRestart(t *testing.T) {
	c := newCluster(t)
	old := c.serve(3, "v1")
	load := c.load("Work", 200, 7*time.Second, 20)
	load.waitFlowing(t)
	c.roll(old, "v2")
	r := <-load.report
	logReport(t, "rolling restart", r)
	if r.Failed != 0 {
		t.Errorf("%d of %d calls failed during the rolling restart, want 0", r.Failed, r.Calls)
	}
	if r.Labels["v2"] == 0 {
		t.Error("no call reached a new backend")
	}
	for _, o := range old {
		if code, _, err := o.Wait(5 * time.Second); err != nil || code != 0 {
			t.Errorf("old backend exit: %d, %v", code, err)
		}
	}
}

// TestFollowSurvivesRollingRestart follows a Watch stream while every backend
// is replaced, as in TestRollingRestart. Each drain ends the stream on that
// backend with UNAVAILABLE, and Follow must resume on another one: the events
// it delivers must run on with no gap and no repeat, from more than one
// backend.
func TestFollowSurvivesRollingRestart(t *testing.T) {
	c := newCluster(t)
	old := c.serve(3, "v1")
	var resumes atomic.Int64
	cl, err := client.New(context.Background(), c.target(), client.WithOnRetry(func(string, uint, error) { resumes.Add(1) }))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	// Every backend runs on this host, so the version tells old from new.
	type event struct {
		seq     uint64
		version string
	}
	var (
		mu     sync.Mutex
		events []event
	)
	flowing := make(chan struct{})
	ctx, stop := context.WithCancel(context.Background())
	followed := make(chan error, 1)
	go func() {
		followed <- servicetest.FollowWatch(ctx, cl, &drillv1.WatchRequest{IntervalMs: 20}, func(e *drillv1.WatchResponse) error {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, event{e.GetSequence(), e.GetVersion()})
			if len(events) == 10 {
				close(flowing)
			}
			return nil
		})
	}()
	select {
	case <-flowing:
	case err := <-followed:
		t.Fatalf("Follow ended before the rollout: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no events in 30s")
	}
	for _, o := range old {
		p := c.start("v2")
		c.dns.add(host(p))
		time.Sleep(300 * time.Millisecond) // the rollout's pace, as in TestRollingRestart
		c.dns.remove(host(o))
		o.Signal(t, syscall.SIGTERM)
		if _, _, err := o.Wait(10 * time.Second); err != nil {
			t.Fatalf("old backend: %v", err)
		}
	}
	mu.Lock()
	after := len(events)
	mu.Unlock()
	// A few more events, all from the new backends.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(events)
		mu.Unlock()
		if n >= after+10 || time.Now().After(deadline) {
			break
		}
		select {
		case err := <-followed:
			t.Fatalf("Follow ended after the rollout: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	stop()
	if err := <-followed; !errors.Is(err, context.Canceled) {
		t.Errorf("Follow = %v, want context.Canceled once the caller stops", err)
	}

	mu.Lock()
	defer mu.Unlock()
	versions := map[string]int{}
	var gaps, repeats int
	for i, e := range events {
		versions[e.version]++
		if i == 0 {
			continue
		}
		switch prev := events[i-1].seq; {
		case e.seq <= prev:
			repeats++
			t.Errorf("event %d after %d: repeated or out of order", e.seq, prev)
		case e.seq > prev+1:
			gaps++
			t.Errorf("events %d to %d lost", prev+1, e.seq-1)
		}
	}
	t.Logf("Follow across a rolling restart: %d events (by version %v), %d resumes, %d gaps, %d repeats", len(events), versions, resumes.Load(), gaps, repeats)
	if resumes.Load() == 0 {
		t.Error("the stream was never resumed: the rollout never cut it, so the test proved nothing")
	}
	if versions["v1"] == 0 || versions["v2"] == 0 {
		t.Errorf("events by version %v: the stream must start on the old backends and end on the new ones", versions)
	}
}

// TestSIGKILL kills one backend under load, with about 20 calls of each kind
// in flight. The idempotent calls that it cuts must be retried elsewhere and
// succeed; the non-idempotent ones must fail rather than be retried.
func TestSIGKILL(t *testing.T) {
	c := newCluster(t)
	backends := c.serve(3, "v1")
	idempotent := c.load("Work", 200, 4*time.Second, 100)
	counting := c.load("Count", 200, 4*time.Second, 100)
	idempotent.waitFlowing(t)
	counting.waitFlowing(t)
	backends[1].Kill(t)
	// The endpoint controller notices a dead pod late: this pause models
	// that lag, during which DNS still names the dead backend.
	time.Sleep(time.Second)
	c.dns.remove(host(backends[1]))

	r, rc := <-idempotent.report, <-counting.report
	logReport(t, "SIGKILL, Work (idempotent)", r)
	logReport(t, "SIGKILL, Count (not idempotent)", rc)
	if r.Failed != 0 {
		t.Errorf("%d idempotent calls failed after a SIGKILL, want 0", r.Failed)
	}
	if r.Retries == 0 {
		t.Error("no idempotent call was retried: the kill cut no call in flight, so the test proved nothing")
	}
	if rc.Retries != 0 {
		t.Errorf("Count was retried %d times; non-idempotent calls must never be retried", rc.Retries)
	}
	if rc.Failed == 0 {
		t.Error("no Count call failed: the kill cut no call in flight, so the test proved nothing")
	}
	if rc.Calls == 0 || r.Calls == 0 {
		t.Error("the load never ran")
	}
}

// TestScaleUp adds a backend and measures how long until it gets calls: at
// most the server's MaxConnectionAge (plus its 10% jitter and grace) and a
// re-resolution.
func TestScaleUp(t *testing.T) {
	const maxAge = 2 * time.Second
	c := newCluster(t, "-grpc-max-connection-age="+maxAge.String())
	c.serve(2, "old")
	cl, err := client.New(context.Background(), c.target())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	call := func() string {
		resp, err := drillOf(cl).Work(context.Background(), &drillv1.WorkRequest{})
		if err != nil {
			t.Fatalf("call failed during scale-up: %v", err)
		}
		return resp.GetVersion()
	}
	for range 20 {
		call()
	}
	added := c.start("new")
	c.dns.add(host(added))
	addedAt := time.Now()
	limit := maxAge*11/10 + 2*time.Second
	for time.Since(addedAt) < limit {
		if call() == "new" {
			t.Logf("the new backend got its first call %v after it was added (MaxConnectionAge %v)", time.Since(addedAt).Round(time.Millisecond), maxAge)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("the new backend got no call within %v", limit)
}

// TestNewPodsFoundWithoutReconnects adds a backend while no connection
// breaks (MaxConnectionAge is an hour): the client's resolver must find it
// by looking again on its own schedule, as it must when a caching DNS
// server hid new pods for a while. It also checks what the resolver asks:
// only the fully qualified name (no search-domain variants) and never TXT,
// so a _grpc_config record cannot replace the client's service config.
func TestNewPodsFoundWithoutReconnects(t *testing.T) {
	const every = time.Second
	c := newCluster(t, "-grpc-max-connection-age=1h")
	c.serve(2, "old")
	cl, err := client.New(context.Background(), c.target(), client.WithResolveEvery(every))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := drillOf(cl).Work(context.Background(), &drillv1.WorkRequest{}); err != nil {
		t.Fatalf("warm-up call: %v", err)
	}
	added := c.start("new")
	c.dns.add(host(added))
	addedAt := time.Now()
	limit := every + 2*time.Second // a look-up, a connection, a health check
	found := false
	for !found && time.Since(addedAt) < limit {
		resp, err := drillOf(cl).Work(context.Background(), &drillv1.WorkRequest{})
		if err != nil {
			t.Fatalf("call failed while a backend was added: %v", err)
		}
		found = resp.GetVersion() == "new"
		time.Sleep(5 * time.Millisecond) // pacing between calls
	}
	if !found {
		t.Fatalf("the new backend got no call within %v of appearing in DNS, with no connection broken", limit)
	}
	t.Logf("the new backend got its first call %v after it appeared in DNS (resolve every %v)", time.Since(addedAt).Round(time.Millisecond), every)

	c.dns.mu.Lock()
	defer c.dns.mu.Unlock()
	for q, n := range c.dns.asked {
		if q != "A "+serviceName && q != "AAAA "+serviceName {
			t.Errorf("the resolver asked %q %d times; it should ask only for A and AAAA of %s", q, n, serviceName)
		}
	}
	if c.dns.asked["A "+serviceName] < 2 {
		t.Errorf("the resolver asked for %s only %d times: it never looked again", serviceName, c.dns.asked["A "+serviceName])
	}
}

// TestAllBackendsDown: with no pod at all, an idempotent call waits for one
// until its deadline and then fails clearly, with the reason; a call with
// side effects fails at once.
func TestAllBackendsDown(t *testing.T) {
	c := newCluster(t)
	backends := c.serve(2, "v1")
	cl, err := client.New(context.Background(), c.target())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := drillOf(cl).Work(context.Background(), &drillv1.WorkRequest{}); err != nil {
		t.Fatalf("warm-up call: %v", err)
	}
	for _, b := range backends {
		b.Kill(t)
		_, _, _ = b.Wait(5 * time.Second)
	}
	const deadline = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	_, err = drillOf(cl).Work(ctx, &drillv1.WorkRequest{})
	took := time.Since(start)
	t.Logf("with every backend down the call failed after %v: %v", took.Round(time.Millisecond), err)
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("code = %v, want DeadlineExceeded: an idempotent call waits for a pod", status.Code(err))
	}
	if took < deadline-50*time.Millisecond || took > deadline+200*time.Millisecond {
		t.Errorf("the call took %v, want its %v deadline", took, deadline)
	}
	// The dial that failed last says why: refused by a port nothing listens
	// on, or reset when it reached a backend's listener as it closed.
	if msg := status.Convert(err).Message(); !strings.Contains(msg, "connection error") ||
		!(strings.Contains(msg, "connection refused") || strings.Contains(msg, "connection reset by peer")) {
		t.Errorf("the error %q does not say why no pod could take the call", msg)
	}

	start = time.Now()
	_, err = drillOf(cl).Count(context.Background(), &drillv1.CountRequest{})
	took = time.Since(start)
	if status.Code(err) != codes.Unavailable || took > 200*time.Millisecond {
		t.Errorf("Count with every backend down: %v after %v, want Unavailable at once: calls with side effects never wait", err, took)
	}
}

// podAddr is a pod's address that the test owns, in front of a backend.
// kill cuts every connection through it and, until restart, closes each new
// one at once and counts it: a killed pod's address refuses connections until
// the kubelet has restarted the container on it, and to gRPC a connection
// closed before the server's first frame is a failed one all the same.
type podAddr struct {
	addr string
	r    *relays

	mu      sync.Mutex // orders kill against a connection being spliced
	down    bool
	refused int
}

func newPodAddr(t *testing.T, backend string) *podAddr {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pa := &podAddr{addr: ln.Addr().String(), r: newRelays()}
	t.Cleanup(func() {
		_ = ln.Close()
		pa.r.cut()
		pa.r.wait()
	})
	pa.r.wg.Add(1)
	go func() {
		defer pa.r.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", backend)
			if err != nil {
				_ = conn.Close()
				continue
			}
			pa.mu.Lock()
			if pa.down {
				pa.refused++
				_ = conn.Close()
				_ = up.Close()
			} else {
				pa.r.start(conn, up)
			}
			pa.mu.Unlock()
		}
	}()
	return pa
}

func (pa *podAddr) kill() {
	pa.mu.Lock()
	defer pa.mu.Unlock()
	pa.down = true
	pa.r.cut()
}

// restart brings the address back and says how many connections it
// refused while it was down.
func (pa *podAddr) restart() (refused int) {
	pa.mu.Lock()
	defer pa.mu.Unlock()
	pa.down = false
	return pa.refused
}

// TestReconnectsSoonAfterAKill: the client tries a killed pod's address
// again within a fraction of a second, not after gRPC's default backoff (1 s,
// then 1.6 s, 2.6 s, ...), so that a call meant for it waits no longer than
// the pod takes to come back. In 2 s of refusals the default makes 2 or 3
// attempts; the client's pace (100 ms, growing 1.6 times) makes 5 or 6.
func TestReconnectsSoonAfterAKill(t *testing.T) {
	c := newCluster(t)
	b := c.start("v1")
	pa := newPodAddr(t, b.GRPCAddr)
	cl, err := client.New(t.Context(), "passthrough:///"+pa.addr, client.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := drillOf(cl).Work(t.Context(), &drillv1.WorkRequest{}); err != nil {
		t.Fatalf("before the kill: %v", err)
	}
	pa.kill()
	// A call made now waits for the pod (WaitForReady) and keeps the
	// connection wanted while it is down.
	done := make(chan error, 1)
	go func() {
		_, err := drillOf(cl).Work(t.Context(), &drillv1.WorkRequest{})
		done <- err
	}()
	time.Sleep(2 * time.Second) // the pod's restart, not synchronisation
	tries := pa.restart()
	if err := <-done; err != nil {
		t.Errorf("a call made while the pod was down failed after it came back: %v", err)
	}
	t.Logf("%d connection attempts in 2 s while the pod was down", tries)
	if tries < 4 {
		t.Errorf("the client tried the killed pod's address %d times in 2 s, want at least 4: it backs off as slowly as gRPC's default", tries)
	}
}

// TestIdempotentCallWaitsForAPod: a call made while no pod is up succeeds
// when one comes within its deadline, even with a single attempt.
func TestIdempotentCallWaitsForAPod(t *testing.T) {
	c := newCluster(t)
	backends := c.serve(1, "v1")
	entered := make(chan struct{}, 8)
	cl, err := client.New(context.Background(), c.target(), client.WithMaxAttempts(1), client.WithPerAttemptTimeout(20*time.Second),
		client.WithDialOptions(grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			entered <- struct{}{}
			return invoker(ctx, method, req, reply, cc, opts...)
		})))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := drillOf(cl).Work(context.Background(), &drillv1.WorkRequest{}); err != nil {
		t.Fatalf("warm-up call: %v", err)
	}
	<-entered
	backends[0].Kill(t)
	_, _, _ = backends[0].Wait(5 * time.Second)
	c.dns.remove(host(backends[0]))
	// Once the client has seen the connection go; a call sent before that
	// would go out on the dead connection and fail, with one attempt.
	conn := cl.Conn()
	for st := conn.GetState(); st == connectivity.Ready; st = conn.GetState() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		changed := conn.WaitForStateChange(ctx, st)
		cancel()
		if !changed {
			t.Fatal("the client still thinks its only backend is ready, 10s after it was killed")
		}
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err := drillOf(cl).Work(ctx, &drillv1.WorkRequest{})
		done <- err
	}()
	<-entered // the call is on its way, with no pod to take it
	c.serve(1, "v2")
	if err := <-done; err != nil {
		t.Errorf("a call made while no pod was up failed, though one came within its deadline: %v", err)
	}
}

func TestIdempotent(t *testing.T) {
	for method, want := range map[string]bool{
		drillv1.Drill_Work_FullMethodName:  true,
		drillv1.Drill_Watch_FullMethodName: true,
		drillv1.Drill_Count_FullMethodName: false,
		"/unknown.Service/Method":          false,
	} {
		if got := client.Idempotent(method); got != want {
			t.Errorf("Idempotent(%s) = %v, want %v", method, got, want)
		}
	}
}
