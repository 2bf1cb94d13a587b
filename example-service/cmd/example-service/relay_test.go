package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	drillv1 "github.com/zerodrop/zerodrop/example-service/api/exampleservice/drill/v1"
	"github.com/zerodrop/zerodrop/example-service/internal/servicetest"
)

// TestDrillRelaysToItsUpstream runs two tiers, as the recipe for calling
// another service builds them: an edge whose drill relays to a core's
// through the generated client (--drill-upstream). A call to the edge is
// answered by the core, says which edge relayed it, and carries the
// caller's deadline to the core; when the core fails it, the edge fails the
// call with a pushback that forbids a retry at its tier too.
func TestDrillRelaysToItsUpstream(t *testing.T) {
	core, edge, conn := twoTiers(t, servicetest.Options{Version: "core-1"}, servicetest.Options{Version: "edge-1"})
	drill := drillv1.NewDrillClient(conn)
	ctx := servicetest.WithTimeout(t, 10*time.Second)
	resp, err := drill.Work(ctx, &drillv1.WorkRequest{})
	if err != nil || resp.GetVersion() != "core-1" || resp.GetVia() == "" || resp.GetViaVersion() != "edge-1" {
		t.Errorf("Work on the edge = %v, %v; want the core's answer (core-1), relayed via the edge (edge-1)", resp, err)
	}

	r, err := http.Get("http://" + edge.HTTPAddr + "/drill/work")
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Version, Hostname, Via string
		ViaVersion             string `json:"via_version"`
	}
	err = json.NewDecoder(r.Body).Decode(&body)
	_ = r.Body.Close()
	if err != nil || r.StatusCode != http.StatusOK || body.Version != "core-1" || body.Via == "" || body.ViaVersion != "edge-1" || r.Header.Get("X-Version") != "edge-1" {
		t.Errorf("GET /drill/work on the edge = %d %+v (X-Version %q), %v; want 200 with the core's version, via the edge, from edge-1",
			r.StatusCode, body, r.Header.Get("X-Version"), err)
	}

	// The caller's deadline reaches the core: its handler ends with it
	// (DEADLINE_EXCEEDED, or CANCELLED when the caller's cancellation
	// arrives first), long before the 5 s of work asked.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = drill.Work(short, &drillv1.WorkRequest{WorkMs: 5000})
	cancel()
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("Work past the caller's deadline = %v, want DEADLINE_EXCEEDED", err)
	}
	waitMetric(t, core, regexp.MustCompile(`^grpc_server_handled_total\{grpc_code="(DeadlineExceeded|Canceled)",grpc_method="Work"`), 10*time.Second)

	// The core refuses the call (more work than Work allows): the edge
	// fails it with the core's code, and a pushback that forbids a retry.
	var trailer metadata.MD
	_, err = drill.Work(ctx, &drillv1.WorkRequest{WorkMs: 60000}, grpc.Trailer(&trailer))
	if status.Code(err) != codes.InvalidArgument || !strings.HasPrefix(status.Convert(err).Message(), "upstream: ") {
		t.Errorf("Work the core refuses = %v, want the core's INVALID_ARGUMENT, said to come from upstream", err)
	}
	if got := trailer.Get("grpc-retry-pushback-ms"); len(got) != 1 || got[0] != "-1" {
		t.Errorf("pushback of a failed relay = %q, want [-1]: the edge's caller must not retry what the edge's client did", got)
	}
}

// twoTiers starts a core and an edge whose drill relays to the core's, both
// ready, and a connection to the edge, closed when the test ends.
func twoTiers(t *testing.T, core, edge servicetest.Options) (*servicetest.Process, *servicetest.Process, *grpc.ClientConn) {
	t.Helper()
	c := servicetest.Start(t, binary(t), core)
	c.WaitReady(t, 10*time.Second)
	edge.Args = append(edge.Args, "-drill-upstream=passthrough:///"+c.GRPCAddr)
	e := servicetest.Start(t, binary(t), edge)
	e.WaitReady(t, 10*time.Second)
	conn, err := grpc.NewClient(e.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return c, e, conn
}

// waitMetric polls p's /metrics until a line matches re.
func waitMetric(t *testing.T, p *servicetest.Process, re *regexp.Regexp, timeout time.Duration) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for {
		r, err := http.Get("http://" + p.HealthAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		_ = r.Body.Close()
		for _, line := range strings.Split(string(b), "\n") {
			if re.MatchString(line) {
				return
			}
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s/metrics never matched %s", p.HealthAddr, re)
		}
	}
}
