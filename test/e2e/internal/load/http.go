// Package load sends constant, bounded HTTP load to the Service under test
// and records every request. It is open-loop: each client fires at a fixed
// rate whatever the latency, as users do, so a slow or refusing backend
// shows up as failures and latency instead of as a lower request rate.
//
// It is not vegeta (which bench/ uses for throughput) because the proof
// needs one pacer for HTTP and gRPC clients alike, and per-request records
// that vegeta's results do not carry: the version the server reported, how
// many connections an HTTP request took, and every failed gRPC attempt.
// What it takes is small: a ticker, a bounded number of requests in flight,
// two connection policies and those records.
package load

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// tracer makes each request's or call's span, in which the pods' server
// spans and the generated client's attempt spans join it. Until the harness
// installs a tracer provider it is a no-op, and samples carry no trace.
var tracer = otel.Tracer("github.com/zerodrop/zerodrop/test/e2e/internal/load")

// traceOf is the trace a sample belongs to, or "" when it is not traced.
func traceOf(span trace.Span) string {
	if sc := span.SpanContext(); sc.IsSampled() {
		return sc.TraceID().String()
	}
	return ""
}

// Info describes a client population in reports.
type Info struct {
	Name     string        `json:"name"`
	Protocol string        `json:"protocol"` // http or grpc
	Rate     int           `json:"rate"`     // requests or calls per second
	Mode     string        `json:"mode"`     // how it holds connections
	Timeout  time.Duration `json:"timeout"`
	// Retries: the client is the generated one calling idempotent methods,
	// which retries on another pod; even a hard kill must not fail it.
	Retries bool `json:"retries,omitempty"`
	// NoVersion: the responses carry no version (Count), so they do not
	// count towards the versions a phase saw.
	NoVersion bool `json:"no_version,omitempty"`
	// Pinned: one HTTP/2 connection straight to a pod, which only the pod's
	// GOAWAY can move.
	Pinned bool `json:"pinned,omitempty"`
	// Ingress: the client sends through a proxy, the Ingress or the
	// Gateway, which picks a pod of the tier it enters and could retry
	// on another.
	Ingress bool `json:"ingress,omitempty"`
	// Tier is the tier the client's requests enter (edge or core), and
	// Path how they reach its pods: gateway, ingress, clusterip or
	// headless. A failure is reported with both.
	Tier string `json:"tier,omitempty"`
	Path string `json:"path,omitempty"`
}

// Route is where a client's requests enter the system under test: the tier
// and the path to its pods (Info.Tier, Info.Path).
type Route struct{ Tier, Path string }

// Client is one population of the load. RunHTTP's clients and the gRPC
// ones share the pacing, the budget and the Recorder, so a run can mix
// them and the report counts them alike.
type Client interface {
	Describe() Info
	// run sends until ctx is done or take refuses, recording as client idx.
	run(ctx context.Context, rec *Recorder, idx int, take func() bool)
}

// HTTPClient is one simulated HTTP client population.
type HTTPClient struct {
	Name string
	URL  string
	Route
	// Rate is requests per second.
	Rate int
	// KeepAlive reuses connections from a pool of Conns; without it every
	// request dials a new TCP connection, as a fresh client behind a NAT or
	// a curl loop would.
	KeepAlive bool
	Conns     int
	// Timeout bounds each request.
	Timeout time.Duration
	// Addr, if set, is dialled for every request whatever the URL's host:
	// the Ingress's name in the URL gives the Host header and the TLS server
	// name, and Addr is where the ingress controller listens.
	Addr string
	// RootCAs, if set, are the only CAs trusted for https URLs.
	RootCAs *x509.CertPool
	// Via, if set, is said in reports: what sits between client and pods.
	Via string
	// MaxInFlight bounds concurrent requests; a tick that finds the bound
	// reached is recorded as a failure ("client saturated") rather than
	// silently skipped, so the rate stays honest.
	MaxInFlight int
	// HTTP2 speaks only HTTP/2 over Conns connections (one, usually): h2c
	// with prior knowledge for http URLs, TLS with ALPN h2 for https. Such a
	// client keeps its connection for ever, so only the server's GOAWAY
	// moves it; a response over anything but HTTP/2 is a failure.
	HTTP2 bool
}

// Describe implements Client.
func (c HTTPClient) Describe() Info {
	mode := "new connection per request"
	switch {
	case c.HTTP2 && strings.HasPrefix(c.URL, "https:"):
		mode = fmt.Sprintf("HTTP/2 (TLS, ALPN h2) over %d connection(s)", c.Conns)
	case c.HTTP2:
		mode = fmt.Sprintf("HTTP/2 cleartext (h2c, prior knowledge) over %d connection(s)", c.Conns)
	case c.KeepAlive:
		mode = fmt.Sprintf("keep-alive pool of %d", c.Conns)
	}
	if c.Via != "" {
		mode += ", " + c.Via
	}
	return Info{Name: c.Name, Protocol: "http", Rate: c.Rate, Mode: mode, Timeout: c.Timeout, Pinned: c.HTTP2 && c.Via == "", Ingress: c.Addr != "",
		Tier: c.Tier, Path: c.Path}
}

// Sample is one request.
type Sample struct {
	Client  int           `json:"c"`   // index into the clients
	At      time.Duration `json:"at"`  // start, since the load started
	Latency time.Duration `json:"lat"` // until the body was read
	OK      bool          `json:"ok"`  // success with a consistent version
	Error   string        `json:"err,omitempty"`
	Version string        `json:"v,omitempty"` // version a successful response reported
	// Via and ViaVersion are the pod that relayed the request to the tier
	// that answered it, and that pod's version: a request through the
	// edge sees the rollouts of both tiers.
	Via        string `json:"via,omitempty"`
	ViaVersion string `json:"vv,omitempty"`
	// Conns is how many attempts the request took. For HTTP, more than one
	// means Go's transport retried it on a fresh connection after a
	// kept-alive one failed (only for idempotent requests that sent
	// nothing); for gRPC, transparent retries and retryPolicy attempts.
	Conns int `json:"n,omitempty"`
	// FailedAttempts counts gRPC attempts that failed, whether or not a
	// later attempt succeeded.
	FailedAttempts int `json:"fa,omitempty"`
	// Dialed: an HTTP request that opened a new connection rather than
	// reusing one (for an HTTP/2 client, a move after GOAWAY).
	Dialed bool `json:"d,omitempty"`
	// Host is the pod that answered, by the hostname in its response (a
	// pod's hostname is its name). Behind a ClusterIP or an ingress it is
	// the only way to tell which pod a request reached.
	Host string `json:"h,omitempty"`
	// Tries are a gRPC call's attempts that went out on a connection: the
	// pod address each was sent to, and when. They show how long a client
	// kept sending to a pod that answered nothing.
	Tries []Try `json:"t,omitempty"`
	// Trace is the request's trace ID, sent as W3C trace context, when the
	// harness traces: the pods' spans of it are found by it.
	Trace string `json:"tr,omitempty"`
}

// Try is one attempt of a gRPC call, as it left on a connection.
type Try struct {
	Peer string        `json:"p"`  // the connection's remote IP: a pod's, or a ClusterIP
	At   time.Duration `json:"at"` // since the load started
	// Conn is the connection's ID in its ConnEvents. Through a ClusterIP
	// the remote IP is the Service's, and only the answers on the
	// connection name its pod.
	Conn uint64 `json:"id,omitempty"`
}

// ConnEvent is a gRPC connection opening or closing. A connection is open
// from the end of its handshake until it closes; one whose handshake never
// ends does not show.
type ConnEvent struct {
	Client int           `json:"c"`
	ID     uint64        `json:"id"`
	At     time.Duration `json:"at"` // since the load started
	Peer   string        `json:"p"`  // remote IP
	Closed bool          `json:"x,omitempty"`
}

// Recorder collects samples from concurrent requests.
type Recorder struct {
	mu      sync.Mutex
	start   time.Time
	samples []Sample
	events  []StreamEvent
	conns   []ConnEvent
	connIDs atomic.Uint64
	// live maps the local address of each open gRPC connection to its ID:
	// an attempt knows its connection only by its addresses.
	live map[string]uint64
}

// Samples returns a copy of what was recorded so far.
func (r *Recorder) Samples() []Sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Sample(nil), r.samples...)
}

// Start is when the load started.
func (r *Recorder) Start() time.Time { return r.start }

func (r *Recorder) add(s Sample) {
	r.mu.Lock()
	r.samples = append(r.samples, s)
	r.mu.Unlock()
}

// Conns returns a copy of the gRPC connection events recorded so far.
func (r *Recorder) Conns() []ConnEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ConnEvent(nil), r.conns...)
}

// addConn records e of the connection from local.
func (r *Recorder) addConn(e ConnEvent, local string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.conns = append(r.conns, e)
	switch {
	case local == "":
	case e.Closed:
		delete(r.live, local)
	default:
		r.live[local] = e.ID
	}
}

// connOf returns the ID of the open connection from local, or 0.
func (r *Recorder) connOf(local string) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.live[local]
}

// Run sends from every client until ctx is done, maxDuration has passed or
// maxRequests have been sent in total, whichever comes first. It returns at
// once; the returned func blocks until every client has stopped and every
// request in flight has ended.
func Run(ctx context.Context, clients []Client, maxDuration time.Duration, maxRequests int) (*Recorder, func()) {
	rec := &Recorder{start: time.Now(), live: map[string]uint64{}}
	ctx, cancel := context.WithTimeout(ctx, maxDuration)
	var budget sync.Mutex
	left := maxRequests
	take := func() bool {
		budget.Lock()
		defer budget.Unlock()
		if left == 0 {
			return false
		}
		left--
		return true
	}
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.run(ctx, rec, i, take)
		}()
	}
	return rec, func() { wg.Wait(); cancel() }
}

// pace calls send rate times a second, at most maxInFlight at once, and
// records what it returns. Requests are not tied to ctx: one already sent
// runs to its own timeout, so stopping the load never fails a request.
func pace(ctx context.Context, rec *Recorder, idx, rate, maxInFlight int, take func() bool, send func(at time.Duration) Sample) {
	sem := make(chan struct{}, maxInFlight)
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if !take() {
			return
		}
		at := time.Since(rec.start)
		select {
		case sem <- struct{}{}:
		default:
			rec.add(Sample{Client: idx, At: at, Error: "client saturated"})
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			s := send(at)
			s.Client, s.At = idx, at
			rec.add(s)
		}()
	}
}

func (c HTTPClient) run(ctx context.Context, rec *Recorder, idx int, take func() bool) {
	dial := (&net.Dialer{Timeout: c.Timeout}).DialContext
	if c.Addr != "" {
		dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{Timeout: c.Timeout}).DialContext(ctx, network, c.Addr)
		}
	}
	tr := &http.Transport{
		DialContext:         dial,
		TLSClientConfig:     &tls.Config{RootCAs: c.RootCAs},
		DisableKeepAlives:   !c.KeepAlive && !c.HTTP2,
		MaxIdleConnsPerHost: c.Conns,
		MaxConnsPerHost:     c.Conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	if c.HTTP2 {
		tr.Protocols = new(http.Protocols)
		if strings.HasPrefix(c.URL, "https:") {
			tr.Protocols.SetHTTP2(true)
		} else {
			tr.Protocols.SetUnencryptedHTTP2(true)
		}
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: c.Timeout}
	pace(ctx, rec, idx, c.Rate, c.MaxInFlight, take, func(time.Duration) Sample { return get(hc, c.URL, c.HTTP2) })
}

// answer is the part of the drill's GET /drill/work body that is checked.
type answer struct {
	Version    string `json:"version"`
	Hostname   string `json:"hostname"`
	Via        string `json:"via"`
	ViaVersion string `json:"via_version"`
}

func get(hc *http.Client, url string, http2 bool) Sample {
	var s Sample
	ct := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		s.Conns++
		s.Dialed = s.Dialed || !i.Reused
	}}
	ctx, span := tracer.Start(context.Background(), "GET /drill/work", trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	s.Trace = traceOf(span)
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, ct), http.MethodGet, url, nil)
	if err != nil {
		s.Error = err.Error()
		return s
	}
	otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(req.Header))
	t0 := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		s.Latency = time.Since(t0)
		s.Error = Classify(err)
		return s
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	s.Latency = time.Since(t0)
	switch {
	case err != nil:
		s.Error = "read body: " + Classify(err)
	case resp.StatusCode != http.StatusOK:
		s.Error = fmt.Sprintf("status %d", resp.StatusCode)
	case http2 && resp.ProtoMajor != 2:
		s.Error = "answered over " + resp.Proto + ", not HTTP/2"
	default:
		var h answer
		if err := json.Unmarshal(body, &h); err != nil {
			s.Error = "bad body"
			break
		}
		// X-Version is the version of the pod that served the request:
		// the relaying one's, when the answer came from the next tier.
		v, own := resp.Header.Get("X-Version"), h.Version
		if h.Via != "" {
			own = h.ViaVersion
		}
		if v != own {
			s.Error = fmt.Sprintf("X-Version %q but body version %q", v, own)
			break
		}
		s.OK, s.Version, s.Host, s.Via, s.ViaVersion = true, h.Version, h.Hostname, h.Via, h.ViaVersion
	}
	return s
}

// Classify turns an error into a short, countable class.
func Classify(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EPERM):
		return "operation not permitted (no endpoints)"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "host unreachable"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "EOF (server closed the connection)"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return err.Error()
}
