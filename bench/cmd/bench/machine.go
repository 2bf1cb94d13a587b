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
func describeMachine(o options, began time.Time, loadBefore, loadAfter string, took time.Duration) string {
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
	fmt.Fprintf(&sb, "- rounds: %d, interleaved A B; HTTP: vegeta, max rate, %d workers on %d keep-alive connections, %v a round; "+
		"gRPC: ghz, %d concurrent calls on %d connection(s), %v a round, from the .proto file\n",
		o.rounds, o.conns, o.conns, o.httpDur, o.grpcConc, o.grpcConns, o.grpcDur)
	fmt.Fprintf(&sb, "- latency at a fixed rate: %d HTTP req/s, %d gRPC calls/s, %v each, same connections\n", o.fixedHTTPRate, o.fixedGRPCRate, o.fixedDur)
	fmt.Fprintf(&sb, "- shutdown under load: %d HTTP req/s and %d gRPC calls/s, SIGTERM %v in; A runs with `-shutdown-delay=0`\n",
		o.stopRate, o.stopRate, o.stopAfter)
	fmt.Fprintf(&sb, "- binaries: `CGO_ENABLED=0 go build -trimpath -ldflags='-s -w'`; `scaffold new`: median of %d runs after one untimed run\n", o.scaffoldRuns)
	return sb.String()
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
