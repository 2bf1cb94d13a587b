package client_test

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/zerodrop/zerodrop/example-service/client"
)

// cachingDNS stands between the clients and the headless Service's DNS, as a
// stock cluster's CoreDNS does with `cache 30` and the kubernetes plugin's
// `ttl 30`: the first answer for a name is kept for ttl, and every question
// until then gets it again, however the records changed.
type cachingDNS struct {
	upstream string
	ttl      time.Duration
	addr     string

	mu           sync.Mutex
	cache        map[string]cachedAnswer // by "TYPE name"
	hits, misses int
}

type cachedAnswer struct {
	msg *dns.Msg
	at  time.Time
}

func (c *cluster) cacheDNS(ttl time.Duration) *cachingDNS {
	c.t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		c.t.Fatal(err)
	}
	cd := &cachingDNS{upstream: c.dns.addr, ttl: ttl, addr: pc.LocalAddr().String(), cache: map[string]cachedAnswer{}}
	srv := &dns.Server{PacketConn: pc, Handler: cd}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	c.t.Cleanup(func() { _ = srv.Shutdown() })
	c.cache = cd
	return cd
}

func (cd *cachingDNS) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	if len(req.Question) != 1 {
		_ = w.WriteMsg(new(dns.Msg).SetRcode(req, dns.RcodeFormatError))
		return
	}
	q := req.Question[0]
	key := dns.TypeToString[q.Qtype] + " " + q.Name
	cd.mu.Lock()
	e, ok := cd.cache[key]
	fresh := ok && time.Since(e.at) < cd.ttl
	if fresh {
		cd.hits++
	} else {
		cd.misses++
	}
	cd.mu.Unlock()
	if !fresh {
		resp, _, err := new(dns.Client).Exchange(req, cd.upstream)
		if err != nil {
			_ = w.WriteMsg(new(dns.Msg).SetRcode(req, dns.RcodeServerFailure))
			return
		}
		e = cachedAnswer{msg: resp, at: time.Now()}
		cd.mu.Lock()
		cd.cache[key] = e
		cd.mu.Unlock()
	}
	reply := e.msg.Copy()
	reply.Id = req.Id
	left := uint32(max(0, (cd.ttl - time.Since(e.at)).Seconds()))
	for _, rr := range reply.Answer {
		rr.Header().Ttl = left
	}
	_ = w.WriteMsg(reply)
}

func (cd *cachingDNS) counts() (hits, misses int) {
	cd.mu.Lock()
	defer cd.mu.Unlock()
	return cd.hits, cd.misses
}

// kubeProxy stands for a ClusterIP Service: it forwards each new TCP
// connection to one of the backends in the headless Service's records as
// they are now (kube-proxy follows EndpointSlices, not DNS caches), and
// leaves established connections alone, as conntrack does.
type kubeProxy struct {
	addr  string
	conns atomic.Int64
}

func (c *cluster) kubeProxy() *kubeProxy {
	c.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.t.Fatal(err)
	}
	kp := &kubeProxy{addr: ln.Addr().String()}
	r := newRelays()
	c.t.Cleanup(func() {
		_ = ln.Close()
		r.cut()
		r.wait()
	})
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for n := 0; ; n++ {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			hosts := c.dns.current()
			if len(hosts) == 0 {
				_ = conn.Close() // no endpoints: kube-proxy rejects
				continue
			}
			backend, err := net.Dial("tcp", net.JoinHostPort(hosts[n%len(hosts)], strconv.Itoa(c.port)))
			if err != nil {
				_ = conn.Close()
				continue
			}
			kp.conns.Add(1)
			r.start(conn, backend)
		}
	}()
	return kp
}

// relays are a test proxy's spliced connections, so that it can cut them
// all, as a pod's death does, and wait for their goroutines at the end.
type relays struct {
	wg   sync.WaitGroup
	mu   sync.Mutex
	open map[net.Conn]bool
}

func newRelays() *relays { return &relays{open: map[net.Conn]bool{}} }

// start copies between a and b both ways until either side ends, then
// closes both.
func (r *relays) start(a, b net.Conn) {
	r.mu.Lock()
	r.open[a], r.open[b] = true, true
	r.mu.Unlock()
	r.wg.Add(2)
	pipe := func(dst, src net.Conn) {
		defer r.wg.Done()
		_, _ = io.Copy(dst, src)
		_ = dst.Close()
		_ = src.Close()
		r.mu.Lock()
		delete(r.open, dst)
		delete(r.open, src)
		r.mu.Unlock()
	}
	go pipe(a, b)
	go pipe(b, a)
}

// cut closes every connection.
func (r *relays) cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for conn := range r.open {
		_ = conn.Close()
	}
}

func (r *relays) wait() { r.wg.Wait() }

// rollBehindCache replaces three backends one at a time under load, as
// TestRollingRestart does, with the clients asking a 30 s caching DNS server
// that answered before the rollout began: the clients never learn a new
// backend's address during the test.
func rollBehindCache(t *testing.T, withFallback bool) (failed, calls int64, labels map[string]int64, proxied int64) {
	c := newCluster(t)
	cache := c.cacheDNS(30 * time.Second)
	proxy := c.kubeProxy()
	old := c.serve(3, "v1")
	if withFallback {
		c.opts = []client.Option{client.WithFallback("passthrough:///" + proxy.addr)}
	}
	load := c.load("Work", 200, 7*time.Second, 20)
	load.waitFlowing(t)
	c.roll(old, "v2")
	r := <-load.report
	logReport(t, fmt.Sprintf("behind a caching DNS, fallback %v", withFallback), r)
	if hits, misses := cache.counts(); hits == 0 || misses > 2 {
		t.Fatalf("the caching DNS answered %d times from its cache and asked upstream %d times (A and AAAA once each): the clients were not behind a stale cache", hits, misses)
	}
	return r.Failed, r.Calls, r.Labels, proxy.conns.Load()
}

// TestRollingRestartBehindCachingDNS: with the ClusterIP Service as its
// fallback, the client loses no idempotent call while every backend is
// replaced behind a DNS cache that hides all the new ones.
func TestRollingRestartBehindCachingDNS(t *testing.T) {
	failed, calls, labels, proxied := rollBehindCache(t, true)
	if failed != 0 {
		t.Errorf("%d of %d calls failed, want 0", failed, calls)
	}
	if labels["v2"] == 0 || proxied == 0 {
		t.Errorf("no call reached a new backend through the fallback (versions %v, %d proxied connections)", labels, proxied)
	}
}

// TestCachingDNSHidesNewPods shows why the fallback is there: without it, a
// client that only knows the old backends fails once they are all gone.
func TestCachingDNSHidesNewPods(t *testing.T) {
	failed, calls, labels, _ := rollBehindCache(t, false)
	if failed == 0 {
		t.Errorf("all %d calls succeeded behind a cache that hid every new backend (versions %v): the test no longer shows what the fallback is for", calls, labels)
	}
}
