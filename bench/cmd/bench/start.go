package main

import (
	"context"
	"os"
	"strings"
	"time"

	"github.com/zerodrop/zerodrop/bench/internal/proc"
)

// startReady starts s on loopback ports that the kernel picks (or, for a
// server on fixed ports, that fixedPorts drew), pinned to the server CPUs,
// with extra added to its command line, and waits until it is ready; it
// returns the time that took. On error nothing is left running.
func startReady(ctx context.Context, o options, s server, extra []string, logPath string, env []string) (*proc.Process, addrs, time.Duration, error) {
	// A fixed port another program holds fails the start; draw again.
	const attempts = 5
	for attempt := 1; ; attempt++ {
		args, fixed := s.command(extra)
		p, a, ready, err := startOnce(ctx, o, s, args, fixed, logPath, env)
		if err == nil || fixed == nil || attempt == attempts || !portTaken(logPath) {
			return p, a, ready, err
		}
		logf("  %s: a fixed port was taken (%v); drawing others", s.Label, err)
	}
}

func startOnce(ctx context.Context, o options, s server, args []string, fixed *addrs, logPath string, env []string) (*proc.Process, addrs, time.Duration, error) {
	p, err := proc.StartEnv(s.bin, args, env, o.serverCPUs, logPath)
	if err != nil {
		return nil, addrs{}, 0, err
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var a addrs
	if fixed != nil {
		a = *fixed
		p.NoAddrs()
	} else {
		var line []byte
		if line, err = p.Addrs(rctx); err == nil {
			a, err = parseAddrs(line)
		}
	}
	var ready time.Duration
	if err == nil {
		ready, err = p.WaitReady(rctx, s.readyURL(a))
	}
	if err != nil {
		p.Kill()
		return nil, a, 0, err
	}
	return p, a, ready, nil
}

// portTaken reports whether the server's log says it could not bind a port.
// podinfo logs "failed to listen" for its gRPC port and the bind error for
// its HTTP port.
func portTaken(logPath string) bool {
	data, err := os.ReadFile(logPath)
	if err != nil {
		return false
	}
	return strings.Contains(string(data), "address already in use") || strings.Contains(string(data), "failed to listen")
}
