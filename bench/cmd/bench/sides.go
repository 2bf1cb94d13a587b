package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zerodrop/zerodrop/bench/internal/load"
	"github.com/zerodrop/zerodrop/bench/internal/proc"
	"github.com/zerodrop/zerodrop/bench/internal/report"
)

// server is one side of the comparison.
type server struct {
	report.Side
	bin string
	// args is the command line: every port 0, and the bound addresses
	// reported as JSON to proc.AddrFile.
	args []string
	// fixedPorts, when set, stands in for args for a server that can neither
	// bind port 0 nor say what it bound: it returns the command line of one
	// start and the addresses that start will listen on. A start that finds
	// a port taken is retried with others (see startReady).
	fixedPorts func() ([]string, addrs)
	// readyURL is what answers 200 once the server is ready to serve.
	readyURL func(a addrs) string
	// rpc is the call the gRPC loads make.
	rpc load.RPC
	// drainArgs are added to the command line for the figure of requests
	// lost past SIGTERM, which runs every side with its drain delay D.
	drainArgs []string
	// drain says what D the side runs with in that figure.
	drain string
	// serves says, for the method text, what the side serves and how it
	// stops.
	serves string
	// env is added to the server's environment.
	env []string
}

// command returns the command line of one start and, for a server on fixed
// ports, where it will listen.
func (s server) command(extra []string) ([]string, *addrs) {
	if s.fixedPorts == nil {
		return append(append([]string{}, s.args...), extra...), nil
	}
	args, a := s.fixedPorts()
	return append(args, extra...), &a
}

// addrs is where a server bound its ports, as it reported them.
type addrs struct {
	http   string
	grpc   string
	health string
}

func parseAddrs(line []byte) (addrs, error) {
	var a struct{ HTTP, GRPC, Health string }
	if err := json.Unmarshal(line, &a); err != nil || a.HTTP == "" || a.GRPC == "" {
		return addrs{}, fmt.Errorf("the server reported its addresses as %q: %v", line, err)
	}
	return addrs{http: a.HTTP, grpc: a.GRPC, health: a.Health}, nil
}

// lossDelay is the drain delay D of every side that has one, in the figure of
// requests lost past SIGTERM: podinfo's, which is fixed (it sleeps 3 s after
// SIGTERM unless it logs at debug level), so that A runs with the same.
const lossDelay = 3 * time.Second

// generated is the example-service with every middleware on, as it ships,
// except the drain delay D, which is 0 so that the exit figures measure the
// drain machinery rather than the wait; the loss figure gives it lossDelay.
func generated(bin string) server {
	return server{
		Side: report.Side{Label: "A", Name: "generated service (A)"}, bin: bin,
		args: []string{
			"-http-addr=127.0.0.1:0", "-grpc-addr=127.0.0.1:0", "-health-addr=127.0.0.1:0", "-addr-file=" + proc.AddrFile,
			"-shutdown-delay=0", "-shutdown-timeout=5s",
		},
		readyURL:  func(a addrs) string { return "http://" + a.health + "/readyz" },
		drainArgs: []string{"-shutdown-delay=" + lossDelay.String()},
		drain:     "D = " + lossDelay.String() + " (`-shutdown-delay=" + lossDelay.String() + "`)",
		serves: "`example-service/cmd/example-service` as generated, every middleware on; " +
			"`-shutdown-delay=0` for the exit figures, " + lossDelay.String() + " for the loss figure",
	}
}

// traced is A with every call traced and exported over OTLP/gRPC to sink,
// the bench's own collector on loopback, with only the standard variables:
// the cost a team pays once its platform collects traces.
func traced(bin, sink string) server {
	s := generated(bin)
	s.Label, s.Name = "T", "generated service, every call traced (T)"
	s.env = []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT=http://" + sink,
		"OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
		"OTEL_TRACES_SAMPLER=always_on",
		"OTEL_SERVICE_NAME=bench",
	}
	s.serves = "A with `OTEL_EXPORTER_OTLP_ENDPOINT` set and `OTEL_TRACES_SAMPLER=always_on`: every call and request traced, batched and exported over OTLP/gRPC to a collector on loopback (the bench's own, which counts and drops the spans)"
	return s
}

// bare is the baseline; it has no health port, so ready means answering /.
// It has no drain delay.
func bare(bin string) server {
	return server{
		Side: report.Side{Label: "B", Name: "bare baseline (B)"}, bin: bin,
		args:     []string{"-http-addr=127.0.0.1:0", "-grpc-addr=127.0.0.1:0", "-addr-file=" + proc.AddrFile},
		readyURL: func(a addrs) string { return "http://" + a.http + "/" },
		drain:    "no drain delay",
		serves:   "`bench/cmd/bare`: `net/http` and `grpc.NewServer()`, the example's `Greeter`, no middleware; `Shutdown` + `GracefulStop` on SIGTERM",
	}
}

// withRPC returns s making the gRPC loads call rpc.
func (s server) withRPC(rpc load.RPC) server {
	s.rpc = rpc
	return s
}

// freePortRange is where fixed ports are drawn from: below the kernel's
// ephemeral range, which port-0 binds and outgoing connections use, and below
// Kubernetes' NodePort range (30000–32767), which a local cluster's
// kube-proxy may hold, so that only another fixed-port user can hold one.
func freePortRange() (lo, hi int) {
	lo, hi = 20000, 30000
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return lo, hi
	}
	if f := strings.Fields(string(data)); len(f) == 2 {
		if first, err := strconv.Atoi(f[0]); err == nil && first < hi {
			// An unusual ephemeral range: stay below it.
			return max(1024, first-10000), first
		}
	}
	return lo, hi
}

// freePorts draws n different ports from freePortRange.
func freePorts(n int) []int {
	lo, hi := freePortRange()
	ports := make([]int, 0, n)
	for len(ports) < n {
		if p := lo + rand.IntN(hi-lo); !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	return ports
}
