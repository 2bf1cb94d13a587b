//go:build pprof

package main

// This file is built only with -tags pprof, into the baseline and into a
// temporary copy of example-service, by `bench -profile`: it lets the driver
// take CPU and heap profiles of either server under load without changing
// the code that ships.

import (
	"net/http"
	"net/http/pprof"
	"os"
)

func init() {
	addr := os.Getenv("BENCH_PPROF_ADDR")
	if addr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	go func() { _ = http.ListenAndServe(addr, mux) }()
}
