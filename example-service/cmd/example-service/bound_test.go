package main

// These tests hold the real binary to the bound of the shutdown contract,
// D + S + F, against clients that keep a connection open without finishing
// anything on it: the ones a port scanner, a load balancer's TCP check, a
// half-dead client or a slow one make.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/zerodrop/zerodrop/example-service/internal/servicetest"
)

// The budget under test: no drain delay, so that the quiet clients below
// are still there when the servers stop, and S and F far shorter than the
// handshake, header and read timeouts that would end them by themselves.
const (
	boundD = 0
	boundS = 2 * time.Second
	boundF = time.Second
)

// port picks one of a process's three ports.
type port struct {
	name string
	addr func(*servicetest.Process) string
}

var (
	httpPort   = port{"http", func(p *servicetest.Process) string { return p.HTTPAddr }}
	grpcPort   = port{"grpc", func(p *servicetest.Process) string { return p.GRPCAddr }}
	healthPort = port{"health", func(p *servicetest.Process) string { return p.HealthAddr }}
)

// A quietClient connects to addr, gets its connection into the state it
// is named for, and leaves it there until ctx ends. It returns once that
// state is reached, or with an error.
type quietClient struct {
	name  string
	ports []port
	open  func(ctx context.Context, t *testing.T, addr string, p port) error
}

var quietClients = []quietClient{
	{"silent", []port{httpPort, grpcPort, healthPort}, openSilent},
	{"half an HTTP/2 preface", []port{httpPort, grpcPort, healthPort}, openHalfPreface},
	{"body trickled a byte at a time", []port{httpPort, grpcPort, healthPort}, openTrickle},
	{"stream never read", []port{httpPort, grpcPort}, openUnread},
}

// TestShutdownBoundAgainstQuietClients runs each quiet client against each
// port of its own process, sends SIGTERM, and checks that the process exits
// 0 within D + S + F and reports no hard stop, since nothing was in flight:
// neither in the log nor in the termination message.
func TestShutdownBoundAgainstQuietClients(t *testing.T) {
	for _, qc := range quietClients {
		for _, pt := range qc.ports {
			t.Run(qc.name+"/"+pt.name, func(t *testing.T) {
				t.Parallel()
				termLog := filepath.Join(t.TempDir(), "termination-log")
				if err := os.WriteFile(termLog, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				p := servicetest.Start(t, binary(t), servicetest.Options{ShutdownDelay: boundD, ShutdownTimeout: boundS,
					Args: []string{"-cleanup-timeout=" + boundF.String(), "-termination-log=" + termLog}})
				p.WaitReady(t, 10*time.Second)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				if err := qc.open(ctx, t, pt.addr(p), pt); err != nil {
					t.Fatalf("%s client: %v", qc.name, err)
				}

				p.Signal(t, syscall.SIGTERM)
				sigAt := time.Now()
				code, exitAt, err := p.Wait(boundD + boundS + boundF + 30*time.Second)
				if err != nil {
					t.Fatalf("a %s connection to the %s port held the process past D + S + F + 30s: %v", qc.name, pt.name, err)
				}
				took := exitAt.Sub(sigAt)
				t.Logf("exit %d after %v", code, took)
				if limit := boundD + boundS + boundF + time.Second; took > limit {
					t.Errorf("exit took %v, want at most D + S + F + 1s = %v", took, limit)
				}
				if code != 0 {
					t.Errorf("exit code %d, want 0", code)
				}
				if msg, _ := os.ReadFile(termLog); len(msg) != 0 {
					t.Errorf("termination message %q, want none: nothing was in flight", msg)
				}
				if strings.Contains(p.Stderr(), "closing it hard") {
					t.Errorf("the log reports a hard stop, but nothing was in flight")
				}
			})
		}
	}
}

// dial connects to addr and closes the connection when ctx ends.
func dial(ctx context.Context, t *testing.T, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = c.Close() })
	context.AfterFunc(ctx, func() { _ = c.Close() })
	return c, nil
}

// acceptedByGRPC waits for the first bytes that a gRPC server sends on a
// new connection, its SETTINGS frame: proof that the server accepted it and
// began the handshake. An HTTP server says nothing until it has read a
// request, so there is nothing to wait for there.
func acceptedByGRPC(c net.Conn, p port) error {
	if p.name != grpcPort.name {
		return nil
	}
	f, err := http2.NewFramer(io.Discard, c).ReadFrame()
	if err != nil {
		return fmt.Errorf("read the server's SETTINGS: %w", err)
	}
	if _, ok := f.(*http2.SettingsFrame); !ok {
		return fmt.Errorf("first frame %v, want SETTINGS", f)
	}
	return nil
}

func openSilent(ctx context.Context, t *testing.T, addr string, p port) error {
	c, err := dial(ctx, t, addr)
	if err != nil {
		return err
	}
	return acceptedByGRPC(c, p)
}

func openHalfPreface(ctx context.Context, t *testing.T, addr string, p port) error {
	c, err := dial(ctx, t, addr)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(c, http2.ClientPreface[:len(http2.ClientPreface)/2]); err != nil {
		return err
	}
	return acceptedByGRPC(c, p)
}

// openTrickle starts a request whose body then arrives a byte every 50 ms.
// On HTTP it is a POST with a Content-Length, answered (405) before the
// body has come, which the server then goes on reading; on gRPC it is a
// call whose message never arrives whole, so its handler never starts.
func openTrickle(ctx context.Context, t *testing.T, addr string, p port) error {
	c, err := dial(ctx, t, addr)
	if err != nil {
		return err
	}
	trickle := func() error { _, err := c.Write([]byte{'x'}); return err }
	if p.name == grpcPort.name {
		fr, err := startH2(c, true)
		if err != nil {
			return err
		}
		trickle = func() error { return fr.WriteData(1, false, []byte{'x'}) }
		if err := writeHeaders(fr, 1, "POST", healthpb.Health_Check_FullMethodName, grpcHeaders...); err != nil {
			return err
		}
		// A message prefix that announces 100 bytes, which never all come.
		if err := fr.WriteData(1, false, []byte{0, 0, 0, 0, 100}); err != nil {
			return err
		}
	} else {
		if _, err := io.WriteString(c, "POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 100000\r\n\r\n"); err != nil {
			return err
		}
		// The answer comes before the body: the handler ran and returned.
		resp, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return fmt.Errorf("read the status line: %w", err)
		}
		if !strings.Contains(resp, " 405 ") && !strings.Contains(resp, " 404 ") {
			return fmt.Errorf("status line %q, want 404 or 405", resp)
		}
	}
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		// At most 30 s of it; a write error means the server hung up.
		for range 600 {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if trickle() != nil {
				return
			}
		}
	}()
	return nil
}

// openUnread opens an HTTP/2 stream with a flow-control window of 0 and
// never reads from it or ends it: the server's answer (a GET / on HTTP, a
// health check on gRPC) can never be delivered, so the stream stays open
// after its handler has returned, and the client ignores the GOAWAY of the
// drain. Only the runtime's own routes and services are used, so the test
// holds whatever API the service serves.
func openUnread(ctx context.Context, t *testing.T, addr string, p port) error {
	c, err := dial(ctx, t, addr)
	if err != nil {
		return err
	}
	fr, err := startH2(c, false)
	if err != nil {
		return err
	}
	if p.name == grpcPort.name {
		// A whole grpc.health.v1 Check (an empty message): its handler
		// answers and returns, but the answer cannot be sent.
		if err := writeHeaders(fr, 1, "POST", healthpb.Health_Check_FullMethodName, grpcHeaders...); err != nil {
			return err
		}
		if err := fr.WriteData(1, true, []byte{0, 0, 0, 0, 0}); err != nil {
			return err
		}
	} else if err := writeHeaders(fr, 1, "GET", "/"); err != nil {
		return err
	}
	// The response's HEADERS frame, which flow control does not hold back:
	// the handler has answered.
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return fmt.Errorf("wait for the response headers: %w", err)
		}
		if h, ok := f.(*http2.HeadersFrame); ok && h.StreamID == 1 {
			return nil
		}
	}
}

var grpcHeaders = []string{"content-type", "application/grpc", "te", "trailers"}

// startH2 writes the client preface and a SETTINGS frame, with a window of
// 0 when read is false, and waits for the server's SETTINGS.
func startH2(c net.Conn, read bool) (*http2.Framer, error) {
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		return nil, err
	}
	fr := http2.NewFramer(c, c)
	var settings []http2.Setting
	if !read {
		settings = append(settings, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	}
	if err := fr.WriteSettings(settings...); err != nil {
		return nil, err
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return nil, fmt.Errorf("read the server's SETTINGS: %w", err)
		}
		if s, ok := f.(*http2.SettingsFrame); ok && !s.IsAck() {
			return fr, fr.WriteSettingsAck()
		}
	}
}

// writeHeaders opens stream id with a request for path; extra are more
// header names and values.
func writeHeaders(fr *http2.Framer, id uint32, method, path string, extra ...string) error {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	fields := append([]string{":method", method, ":scheme", "http", ":authority", "test", ":path", path}, extra...)
	for i := 0; i+1 < len(fields); i += 2 {
		if err := enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]}); err != nil {
			return err
		}
	}
	return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: buf.Bytes(), EndHeaders: true, EndStream: method == "GET"})
}
