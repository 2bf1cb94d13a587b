package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// describeMachine says where and how the figures were taken, since they mean
// little without it.
func describeMachine(o options, sides []server, began time.Time, loadBefore, loadAfter string, took time.Duration) string {
	var sb strings.Builder
	kernel := "unknown"
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		kernel = unix.ByteSliceToString(u.Release[:])
	}
	pin := "not pinned (one CPU)"
	if len(o.serverCPUs) > 0 {
		pin = fmt.Sprintf("server under test on CPU %s, load generators (this process) on CPU %s, with sched_setaffinity", cpuList(o.serverCPUs), cpuList(o.loadCPUs))
	}
	fmt.Fprintf(&sb, "Run of %s UTC, %s long.\n\n", began.UTC().Format("2006-01-02 15:04"), took.Round(time.Second))
	fmt.Fprintf(&sb, "- command: `make bench` (`cd bench && go run ./cmd/bench %s`)\n", strings.Join(os.Args[1:], " "))
	fmt.Fprintf(&sb, "- machine: %d CPUs (`nproc`), %s; Linux %s; %s\n", runtime.NumCPU(), cpuModel(), kernel, runtime.Version())
	fmt.Fprintf(&sb, "- load average (1, 5, 15 min): %s before, %s after; other work shared the machine\n", loadBefore, loadAfter)
	fmt.Fprintf(&sb, "- pinning: %s\n", pin)
	labels := make([]string, len(sides))
	for i, s := range sides {
		labels[i] = s.Label
	}
	fmt.Fprintf(&sb, "- rounds: %d, interleaved %s, each round starting one side later; HTTP: vegeta, max rate, %d workers on %d keep-alive connections, %v a round; "+
		"gRPC: ghz, %d concurrent calls on %d connection(s), %v a round, %s\n",
		o.rounds, strings.Join(labels, " "), o.conns, o.conns, o.httpDur, o.grpcConc, o.grpcConns, o.grpcDur, calls(sides))
	fmt.Fprintf(&sb, "- latency at a fixed rate: %d HTTP req/s, %d gRPC calls/s, %v each, same connections\n", o.fixedHTTPRate, o.fixedGRPCRate, o.fixedDur)
	fmt.Fprintf(&sb, "- shutdown under load: %d HTTP req/s and %d gRPC calls/s, SIGTERM %v in; A runs with `-shutdown-delay=0`\n",
		o.stopRate, o.stopRate, o.stopAfter)
	fmt.Fprintf(&sb, "- lost past SIGTERM: a fresh process, %d HTTP req/s on %d kept-alive connections that never retry, SIGTERM %v in, load until %v after the exit; D: ",
		o.stopRate, o.conns, o.stopAfter, o.lossTail)
	for i, s := range sides {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "%s %s", s.Label, s.drain)
	}
	sb.WriteString("\n")
	fmt.Fprintf(&sb, "- binaries: `CGO_ENABLED=0 go build -trimpath -ldflags='-s -w'`, A and B with the tags of A's image (its Dockerfile's `GO_TAGS`; the peers as they ship, podinfo by `go install` of its module with the same flags); `scaffold new`: median of %d runs after one untimed run\n", o.scaffoldRuns)
	for _, s := range sides {
		fmt.Fprintf(&sb, "- %s: %s\n", s.Name, s.serves)
	}
	return sb.String()
}

// calls says which method each side's gRPC loads call, the sides that call
// the same one together.
func calls(sides []server) string {
	var methods []string
	by := map[string][]string{}
	for _, s := range sides {
		if by[s.rpc.Method] == nil {
			methods = append(methods, s.rpc.Method)
		}
		by[s.rpc.Method] = append(by[s.rpc.Method], s.Label)
	}
	parts := make([]string, len(methods))
	for i, m := range methods {
		parts[i] = fmt.Sprintf("%s `%s`", strings.Join(by[m], " "), m)
	}
	return "calling " + strings.Join(parts, ", ") + " (types from a .proto file or a compiled descriptor, no reflection)"
}

func cpuList(cpus []int) string {
	s := make([]string, len(cpus))
	for i, c := range cpus {
		s[i] = fmt.Sprint(c)
	}
	return strings.Join(s, ",")
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
