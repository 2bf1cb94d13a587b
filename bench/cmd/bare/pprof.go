//go:build pprof

package main

// This file is built only with -tags pprof, into the baseline and into a
// temporary copy of example-service, by `bench -profile`: it lets the driver
// take CPU and heap profiles of either server under load without changing
// the code that ships.

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
)

// init listens before main runs, on a port the kernel picks, and writes the
// address to BENCH_PPROF_ADDR_FILE: by the time the server reports its own
// addresses, the profiler's is on disk.
func init() {
	path := os.Getenv("BENCH_PPROF_ADDR_FILE")
	if path == "" {
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err == nil {
		err = os.WriteFile(path, []byte(ln.Addr().String()), 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pprof hook:", err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	go func() { _ = http.Serve(ln, mux) }()
}
