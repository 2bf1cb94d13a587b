package client_test

import (
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/zerodrop/zerodrop/example-service/client"
	"github.com/zerodrop/zerodrop/example-service/internal/loadgen"
	"github.com/zerodrop/zerodrop/example-service/internal/servicetest"
)

// silentProxy forwards TCP to a backend until silence, after which it
// forwards nothing, answers nothing and closes nothing, as a pod does whose
// network was cut: no FIN, no RST, just lost packets. It still reads what
// clients send, to see when they stop sending.
type silentProxy struct {
	ln      net.Listener
	to      string
	silent  atomic.Bool
	since   atomic.Int64 // unix nanoseconds of silence
	before  atomic.Int64 // calls clients began here before silence
	lastIn  atomic.Int64 // unix nanoseconds of the last call a client began after silence
	mu      sync.Mutex
	conns   []net.Conn
	stopped chan struct{}
}

func startSilentProxy(t *testing.T, addr, to string) *silentProxy {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p := &silentProxy{ln: ln, to: to, stopped: make(chan struct{})}
	go p.accept()
	t.Cleanup(func() {
		close(p.stopped)
		_ = ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			_ = c.Close()
		}
	})
	return p
}

func (p *silentProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.conns = append(p.conns, c)
		p.mu.Unlock()
		if p.silent.Load() {
			go p.swallow(c)
			continue
		}
		b, err := net.Dial("tcp", p.to)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, b)
		p.mu.Unlock()
		go p.pipe(c, b, true)
		go p.pipe(b, c, false)
	}
}

// pipe copies from src to dst until silence; then it only reads src. It
// follows a client's HTTP/2 frames throughout, to note when a client last
// began a call (a HEADERS frame) after silence.
func (p *silentProxy) pipe(src, dst net.Conn, fromClient bool) {
	buf := make([]byte, 32<<10)
	frames := frameTracker{preface: len(http2Preface)}
	for {
		n, err := src.Read(buf)
		if n > 0 {
			silent := p.silent.Load()
			if fromClient && frames.sawHeaders(buf[:n]) {
				if silent {
					p.lastIn.Store(time.Now().UnixNano())
				} else {
					p.before.Add(1)
				}
			}
			if !silent {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}

const http2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// frameTracker finds frame boundaries in a client's byte stream: the
// preface, then frames of a 9-byte header and a payload (RFC 9113).
type frameTracker struct {
	preface int    // preface bytes still to skip
	header  []byte // the current frame header, while incomplete
	payload int    // payload bytes still to skip
}

// sawHeaders consumes b and reports whether a HEADERS frame began in it.
func (f *frameTracker) sawHeaders(b []byte) bool {
	saw := false
	for len(b) > 0 {
		switch {
		case f.preface > 0:
			k := min(f.preface, len(b))
			f.preface -= k
			b = b[k:]
		case f.payload > 0:
			k := min(f.payload, len(b))
			f.payload -= k
			b = b[k:]
		default:
			k := min(9-len(f.header), len(b))
			f.header = append(f.header, b[:k]...)
			b = b[k:]
			if len(f.header) == 9 {
				f.payload = int(f.header[0])<<16 | int(f.header[1])<<8 | int(f.header[2])
				saw = saw || f.header[3] == 0x1
				f.header = f.header[:0]
			}
		}
	}
	return saw
}

// swallow reads a connection made after silence and never answers.
func (p *silentProxy) swallow(c net.Conn) {
	p.pipe(c, nil, true)
}

// silentPod starts a backend behind a silentProxy on the cluster's next
// address, the backend itself never in DNS, and publishes the proxy's
// address in DNS as a pod's; it returns the proxy and that address.
func (c *cluster) silentPod() (*silentProxy, string) {
	c.t.Helper()
	hidden := c.start("v1")
	host := c.subnet + strconv.Itoa(c.nextHost)
	c.nextHost++
	proxy := startSilentProxy(c.t, net.JoinHostPort(host, strconv.Itoa(c.port)), hidden.GRPCAddr)
	c.dns.add(host)
	return proxy, host
}

// leftWithin fails t if a client began a call on the silent backend later
// than bound after it went silent; it returns how long after that was.
func (p *silentProxy) leftWithin(t *testing.T, bound time.Duration) time.Duration {
	t.Helper()
	last := p.lastSent()
	t.Logf("the last call to the silent backend began %v after it went silent", last)
	if last > bound {
		t.Errorf("calls went to the silent backend until %v after it went silent, want at most %v", last, bound)
	}
	return last
}

// silenceBehindFallback points the clients at headless, with a stand-in
// for the ClusterIP Service as their fallback, runs Work at 200 calls/s for
// d, cuts proxy's backend off a second into the flowing load, and returns
// the load's report.
func (c *cluster) silenceBehindFallback(proxy *silentProxy, headless string, d time.Duration) loadgen.Report {
	c.t.Helper()
	kube := c.kubeProxy()
	c.headless = headless
	c.opts = []client.Option{client.WithFallback("passthrough:///" + kube.addr)}
	load := c.load("Work", 200, d, 0)
	load.waitFlowing(c.t)
	time.Sleep(time.Second) // the load's pace: calls spread over the connections
	proxy.silence()
	return <-load.report
}

// silence cuts the backend off from now on.
func (p *silentProxy) silence() {
	p.since.Store(time.Now().UnixNano())
	p.silent.Store(true)
}

// lastSent is how long after silence a client last began a call here.
func (p *silentProxy) lastSent() time.Duration {
	last := p.lastIn.Load()
	if last == 0 {
		return 0
	}
	return time.Duration(last - p.since.Load())
}

// TestSilentBackend: one of three backends goes silent under 200 calls/s,
// and DNS names it for 5 s more, as a readiness probe lags. The calls held
// there are hedged to another backend once they have waited about the
// method's usual latency, and the client passes the silent backend over
// after its third attempt in a row that waited out the per-attempt timeout:
// every idempotent call succeeds within its 3 s deadline, and no call goes
// to the silent backend later than a moment after that timeout. The same
// holds with hedging off and a per-attempt timeout tuned to the method
// (Work answers at once here). With neither, the calls held on the silent
// backend for the default 2 s are more than the retry budget can retry,
// and some fail: that case is measured, for the comparison, and held only
// to the bound on when the client stops using the silent backend.
func TestSilentBackend(t *testing.T) {
	for _, tt := range []struct {
		name       string
		perAttempt time.Duration
		hedging    bool
		allOK      bool
	}{
		{"hedged, default per-attempt timeout", client.DefaultPerAttemptTimeout, true, true},
		{"not hedged, tuned per-attempt timeout", 500 * time.Millisecond, false, true},
		{"not hedged, default per-attempt timeout", client.DefaultPerAttemptTimeout, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t)
			c.opts = []client.Option{client.WithPerAttemptTimeout(tt.perAttempt)}
			if !tt.hedging {
				c.opts = append(c.opts, client.WithoutHedging())
			}
			c.serve(2, "v1")
			proxy, silentHost := c.silentPod()

			load := c.load("Work", 200, 10*time.Second, 0)
			load.waitFlowing(t)
			time.Sleep(time.Second) // the load's pace: calls spread over all three
			proxy.silence()
			time.Sleep(5 * time.Second) // the readiness probe's lag
			c.dns.remove(silentHost)
			r := <-load.report
			logReport(t, tt.name, r)
			proxy.leftWithin(t, tt.perAttempt+time.Second)
			if tt.allOK && r.Failed != 0 {
				t.Errorf("%d of %d idempotent calls failed with a silent backend, want 0", r.Failed, r.Calls)
			}
			if tt.hedging && r.Hedges == 0 {
				t.Error("no call was hedged, though a third of them were held on the silent backend")
			}
		})
	}
}

// TestSilentPodBehindTheFallback: the headless connection has no ready pod
// (a caching DNS names only pods that are gone), so every call goes through
// the ClusterIP fallback, and one of the three pods behind it goes silent.
// The fallback's connections are spread over the pods as kube-proxy spreads
// connections, a call held on the silent pod's is hedged on another, and
// the calls after it go to the connections that answer: every idempotent
// call succeeds within its 3 s deadline.
func TestSilentPodBehindTheFallback(t *testing.T) {
	c := newCluster(t)
	c.serve(2, "v1")
	proxy, _ := c.silentPod()
	// A headless name that answers nothing: the main connection never has
	// a ready pod, as when the cache names only pods that are gone.
	r := c.silenceBehindFallback(proxy, "passthrough:///127.0.0.1:1", 6*time.Second)
	logReport(t, "behind the fallback, one pod silent", r)
	if r.Failed != 0 {
		t.Errorf("%d of %d idempotent calls failed with a silent pod behind the fallback, want 0", r.Failed, r.Calls)
	}
	// A call began on the silent pod after the cut, or was on its way there
	// as it came: the least loaded connection avoids it from the moment a
	// call waits there.
	if proxy.before.Load() == 0 || r.Hedges == 0 {
		t.Errorf("%d calls to the silent pod before the cut, %d hedges: no fallback connection was on the silent pod, or no call was held there, so nothing was proved", proxy.before.Load(), r.Hedges)
	}
	proxy.leftWithin(t, client.DefaultPerAttemptTimeout+time.Second)
}

// TestOnlyKnownPodGoesSilent: a caching DNS names one pod only, as when its
// answer predates a scale-up, and that pod's network is cut. The headless
// connection has nowhere else to send a call, but the ClusterIP fallback
// reaches all three pods (kube-proxy follows the endpoints, not the cache).
// A hedge or a retry of a call held on the silent pod goes through the
// fallback, and once the pod is passed over every call does: every
// idempotent call succeeds within its 3 s deadline, and the client stops
// sending calls to the silent pod about one per-attempt timeout after the
// cut, long before keepalive would close its connection.
func TestOnlyKnownPodGoesSilent(t *testing.T) {
	c := newCluster(t)
	c.serve(2, "v1")
	proxy, silentHost := c.silentPod()
	// The stale answer: the main connection knows the silent pod only.
	stale := "passthrough:///" + net.JoinHostPort(silentHost, strconv.Itoa(c.port))
	r := c.silenceBehindFallback(proxy, stale, 8*time.Second)
	logReport(t, "the only pod the client knows goes silent", r)
	if r.Failed != 0 {
		t.Errorf("%d of %d idempotent calls failed when the only pod the client knew went silent, want 0", r.Failed, r.Calls)
	}
	dropped := proxy.leftWithin(t, client.DefaultPerAttemptTimeout+time.Second)
	if dropped == 0 || r.Hedges == 0 {
		t.Errorf("%d hedges, last call to the silent pod %v after the silence: no call was held there, so nothing was proved", r.Hedges, dropped)
	}
}

// TestHealthyBackendsAreNotPassedOver: under ordinary load, with the tuned
// per-attempt timeout and one backend paused for a moment (as a long GC
// pause or a busy node would), no backend is passed over: each keeps
// serving its share of the calls.
func TestHealthyBackendsAreNotPassedOver(t *testing.T) {
	c := newCluster(t)
	c.opts = []client.Option{client.WithPerAttemptTimeout(500 * time.Millisecond)}
	backends := c.serve(3, "v1")
	before := make([]int, len(backends))
	for i, b := range backends {
		before[i] = workServed(t, b)
	}
	load := c.load("Work", 200, 6*time.Second, 5)
	load.waitFlowing(t)
	time.Sleep(time.Second) // the load's pace
	backends[0].Signal(t, syscall.SIGSTOP)
	time.Sleep(200 * time.Millisecond) // the pause
	backends[0].Signal(t, syscall.SIGCONT)
	r := <-load.report
	logReport(t, "healthy backends, one paused", r)
	if r.Failed != 0 {
		t.Errorf("%d of %d calls failed", r.Failed, r.Calls)
	}
	var served []int
	total := 0
	for i, b := range backends {
		n := workServed(t, b) - before[i]
		served = append(served, n)
		total += n
	}
	t.Logf("calls served by each backend: %v", served)
	for i, n := range served {
		// A backend passed over for 10 s would serve next to nothing in a 6 s
		// load; an even share is a third.
		if n*5 < total {
			t.Errorf("backend %d served %d of %d calls: it was passed over", i, n, total)
		}
	}
}

// workServed is how many Work calls b has answered OK, from its metrics.
func workServed(t *testing.T, b *servicetest.Process) int {
	t.Helper()
	resp, err := http.Get("http://" + b.HealthAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`grpc_server_handled_total\{grpc_code="OK",grpc_method="Work",[^}]*\} (\d+)`).FindSubmatch(body)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}
