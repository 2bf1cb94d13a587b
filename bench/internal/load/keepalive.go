package load

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// KeepAlive is an HTTP/1.1 load on kept-alive connections that never retry,
// for the figure of requests lost when load continues past SIGTERM. Each
// connection sends GET Path, reads the answer, waits for its turn and sends
// the next request on the same connection; it closes and redials only when
// the server says Connection: close or the connection fails.
//
// It is written by hand because the usual clients hide the loss: Go's
// http.Transport notices a kept-alive connection closed while idle and
// redials, and retries an idempotent request that fails on a reused
// connection, so neither vegeta nor a plain http.Client ever reports it. A
// client that writes its next request on a connection the server has just
// closed, as a pool without that care does (or one sending POSTs), loses
// that request; this client is that client.
type KeepAlive struct {
	// Addr is host:port; Path the request target.
	Addr, Path string
	// Connections is the number of connections, each with its own sender.
	Connections int
	// Rate is requests per second over all connections.
	Rate int
	// Timeout bounds each dial and each request.
	Timeout time.Duration
}

// KeepAliveResult is what a KeepAlive load saw.
type KeepAliveResult struct {
	// Sent counts every request attempted, Answered those answered 200.
	Sent, Answered int
	// Lost counts requests written on a connection that had already
	// answered one, and never answered: a kept-alive connection the server
	// closed under the request. A client that does not retry loses them.
	Lost int
	// FreshFailed counts requests that failed on a new connection: refused
	// dials, and connections reset before their first answer once the
	// listener closed. Their requests were never read; in a cluster the drain
	// delay and endpoint removal send them to another replica.
	FreshFailed int
	// NotOK counts answers other than 200.
	NotOK int
	// Closed counts connections the server ended with Connection: close.
	Closed int
	// Errors holds up to a few distinct error texts, for the log.
	Errors []string
}

// KeepAliveRun is a KeepAlive load in progress.
type KeepAliveRun struct {
	stop    chan struct{}
	wg      sync.WaitGroup
	results []KeepAliveResult
}

// Start begins the load; Stop ends it.
func (k KeepAlive) Start() *KeepAliveRun {
	r := &KeepAliveRun{stop: make(chan struct{}), results: make([]KeepAliveResult, k.Connections)}
	interval := time.Duration(float64(time.Second) * float64(k.Connections) / float64(k.Rate))
	req := []byte("GET " + k.Path + " HTTP/1.1\r\nHost: " + k.Addr + "\r\nUser-Agent: zerodrop-bench\r\n\r\n")
	for i := range k.Connections {
		// Stagger the senders, so that the rate is even over time.
		offset := interval * time.Duration(i) / time.Duration(k.Connections)
		r.wg.Go(func() { k.send(req, offset, interval, r.stop, &r.results[i]) })
	}
	return r
}

// Stop ends the load, waits for every sender to finish its request, and
// returns the sum of what they saw.
func (r *KeepAliveRun) Stop() KeepAliveResult {
	close(r.stop)
	r.wg.Wait()
	var sum KeepAliveResult
	seen := map[string]bool{}
	for _, w := range r.results {
		sum.Sent += w.Sent
		sum.Answered += w.Answered
		sum.Lost += w.Lost
		sum.FreshFailed += w.FreshFailed
		sum.NotOK += w.NotOK
		sum.Closed += w.Closed
		for _, e := range w.Errors {
			if !seen[e] && len(sum.Errors) < 3 {
				seen[e] = true
				sum.Errors = append(sum.Errors, e)
			}
		}
	}
	return sum
}

// send is one connection's sender. It writes the next request without first
// looking for a close from the server: that is the race a pooled connection
// loses.
func (k KeepAlive) send(req []byte, offset, interval time.Duration, stop <-chan struct{}, res *KeepAliveResult) {
	select {
	case <-stop:
		return
	case <-time.After(offset):
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var (
		conn   net.Conn
		br     *bufio.Reader
		reused bool // conn has answered a request
	)
	defer func() {
		if conn != nil {
			_ = conn.Close()
		}
	}()
	note := func(err error) {
		if len(res.Errors) < 3 {
			res.Errors = append(res.Errors, err.Error())
		}
	}
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		res.Sent++
		if conn == nil {
			c, err := net.DialTimeout("tcp", k.Addr, k.Timeout)
			if err != nil {
				res.FreshFailed++
				note(err)
				continue
			}
			conn, br, reused = c, bufio.NewReader(c), false
		}
		resp, err := roundTrip(conn, br, req, k.Timeout)
		if err != nil {
			if reused {
				res.Lost++
				note(fmt.Errorf("kept-alive connection: %w", err))
			} else {
				res.FreshFailed++
				note(fmt.Errorf("new connection: %w", err))
			}
			_ = conn.Close()
			conn = nil
			continue
		}
		reused = true
		if resp.StatusCode == http.StatusOK {
			res.Answered++
		} else {
			res.NotOK++
		}
		if resp.Close {
			res.Closed++
			_ = conn.Close()
			conn = nil
		}
	}
}

// roundTrip writes req on conn and reads the whole answer.
func roundTrip(conn net.Conn, br *bufio.Reader, req []byte, timeout time.Duration) (*http.Response, error) {
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	if _, err := conn.Write(req); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	return resp, err
}
