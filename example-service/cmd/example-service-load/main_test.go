package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/zerodrop/zerodrop/example-service/internal/loadgen"
	"github.com/zerodrop/zerodrop/example-service/internal/servicetest"
)

var binPath string

func TestMain(m *testing.M) { os.Exit(servicetest.Main(m, &binPath)) }

func TestLoadAgainstARealServer(t *testing.T) {
	p := servicetest.Start(t, binPath, servicetest.Options{Version: "v3"})
	p.WaitReady(t, 10*time.Second)
	var out bytes.Buffer
	failed, err := run(context.Background(), []string{"-target", p.GRPCAddr, "-fallback", "", "-rate", "100", "-duration", "1s", "-json"}, &out)
	if err != nil || failed {
		t.Fatalf("run: failed %v, err %v\n%s", failed, err, out.String())
	}
	var r loadgen.Report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, out.String())
	}
	t.Logf("%+v", r)
	// A call slow on a busy machine may be hedged: that attempt is counted
	// too, but nothing failed, so nothing is retried.
	if r.Calls < 80 || r.Calls > 101 || r.Failed != 0 || r.Labels["v3"] != r.Calls || r.Codes["OK"] != r.Calls ||
		r.Retries != 0 || r.Attempts != r.Calls+r.Hedges {
		t.Errorf("report = %+v, want about 100 calls, all OK from v3, no retries, every extra attempt a hedge", r)
	}
	if r.P50 <= 0 || r.P99 < r.P50 || r.Max < r.P99 {
		t.Errorf("latency percentiles out of order: %+v", r)
	}
}

// TestLoadReportsFailures points the load at a port that is held open but
// speaks no gRPC: every connection is closed as soon as it is accepted, which
// is what a client sees from a backend that is going away.
func TestLoadReportsFailures(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			_ = conn.Close()
		}
	}()
	var out bytes.Buffer
	failed, err := run(context.Background(), []string{"-target", ln.Addr().String(), "-fallback", "", "-rate", "20", "-duration", "500ms", "-timeout", "2s"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	// Work is idempotent: each call waits for a pod until its deadline.
	if !failed || !strings.Contains(out.String(), "DeadlineExceeded") {
		t.Errorf("against nothing: failed %v, report:\n%s", failed, out.String())
	}
	if !strings.Contains(out.String(), "retries") {
		t.Errorf("the report does not count retries:\n%s", out.String())
	}
}

func TestLoadRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-rate", "0"},
		{"-duration", "2h"},
		{"-method", "Delete"},
		{"-bogus"},
	} {
		var out bytes.Buffer
		if _, err := run(context.Background(), args, &out); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
