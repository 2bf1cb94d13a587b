package report

import (
	"strings"
	"testing"
	"time"

	"github.com/zerodrop/zerodrop/test/e2e/internal/load"
)

// TestPartition: in a partition, the timeouts of clients without retries
// are expected and the retrying client's failures are not; each client's
// last traffic to the silent pod is taken from its attempts' connections
// (gRPC: to the pod's address, or through a ClusterIP on one the pod
// answered on) or from its timed-out and late requests (HTTP), and only
// until the restore; the connections and streams on the pod at the cut are followed
// until they close or move; an ingress timeout counts as saved by a retry
// when another pod answered the same client in its time, unless the client
// enters another tier, whose own client stands between it and the silent
// pod; and run.md says
// when the retrying client never met the silent pod.
func TestPartition(t *testing.T) {
	at := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	const ip, other, clusterIP = "10.217.0.5", "10.217.0.6", "10.218.0.9"
	sc := &Scenario{
		Clients: []load.Info{
			{Name: "plain", Protocol: "http", Timeout: 2 * time.Second},
			{Name: "ingress", Protocol: "http", Ingress: true, Tier: "core", Timeout: 2 * time.Second},
			{Name: "rr", Protocol: "grpc", Retries: true, Timeout: 2 * time.Second},
			{Name: "pinned", Protocol: "grpc", Timeout: 2 * time.Second},
			{Name: "w", Protocol: "stream", Retries: true},
			{Name: "gateway", Protocol: "http", Ingress: true, Tier: "edge", Timeout: 2 * time.Second},
		},
		Phases: []Phase{
			{Name: "steady", Kind: "steady", End: at(10)},
			{Name: "partition one pod", Kind: PartitionKind, Tier: "core", Start: at(10), End: at(20),
				Partition: &Partition{Pod: "pod-a", IP: ip, Cut: at(11), Unready: at(15), Restored: at(15.5), Ready: at(17)}},
		},
		Duration: at(20),
	}
	ok := func(c int, s float64, lat time.Duration, host string, tries ...load.Try) load.Sample {
		return load.Sample{Client: c, At: at(s), OK: true, Version: "1", Latency: lat, Host: host, Tries: tries}
	}
	try := func(peer string, s float64) load.Try { return load.Try{Peer: peer, At: at(s)} }
	samples := []load.Sample{
		{Client: 0, At: at(5), Error: "timeout"},    // steady: counts
		{Client: 0, At: at(10.5), Error: "timeout"}, // before the cut: not traffic to the silent pod
		{Client: 0, At: at(12), Error: "timeout"},
		{Client: 0, At: at(14), Error: "timeout"},
		ok(0, 15.2, time.Second, "pod-a"),         // late, from the pod: the last traffic, and slow
		ok(0, 16, time.Millisecond, "pod-a"),      // after the restore
		{Client: 1, At: at(12), Error: "timeout"}, // another pod answered at 12.5: saved
		ok(1, 12.5, time.Millisecond, "pod-b"),
		{Client: 1, At: at(13), Error: "timeout"}, // nothing answered in its 2 s: not saved
		ok(1, 16, time.Millisecond, "pod-b"),
		ok(2, 12, 2*time.Second+time.Millisecond, "pod-b", try(ip, 12), try(other, 14)), // retried, slow
		ok(2, 13.5, time.Millisecond, "pod-b", try(ip, 13.5)),                           // the last attempt on the pod
		ok(2, 15.6, time.Millisecond, "pod-a", try(ip, 15.6)),                           // restored: not counted
		{Client: 2, At: at(14), Error: "grpc DeadlineExceeded: deadline exceeded", Tries: []load.Try{try(ip, 14)}},
		// Through a ClusterIP: the pod answered on connection 2 before the cut.
		ok(3, 10.2, time.Millisecond, "pod-a", load.Try{Peer: clusterIP, At: at(10.2), Conn: 2}),
		{Client: 3, At: at(12), Error: "grpc DeadlineExceeded: deadline exceeded"}, // sent nowhere: not traffic to the pod
		{Client: 3, At: at(12.5), Error: "grpc DeadlineExceeded: deadline exceeded", Tries: []load.Try{{Peer: clusterIP, At: at(12.5), Conn: 2}}},
		// A hedged call that the pod answered before the cut: its hedge went
		// to another pod on connection 7, which later calls use during the
		// cut. That is not traffic to the silent pod.
		ok(2, 10.4, time.Millisecond, "pod-a", load.Try{Peer: ip, At: at(10.4), Conn: 1}, load.Try{Peer: other, At: at(10.45), Conn: 7}),
		ok(2, 14.5, time.Millisecond, "pod-b", load.Try{Peer: other, At: at(14.5), Conn: 7}),
		{Client: 5, At: at(12), Error: "timeout"}, // through the edge: no retry at the gateway could have moved it
		ok(5, 12.5, time.Millisecond, "edge-b"),
	}
	samples[10].Conns, samples[10].FailedAttempts = 2, 1
	conns := []load.ConnEvent{
		{Client: 2, ID: 1, At: at(1), Peer: ip},
		{Client: 2, ID: 1, At: at(13), Peer: ip, Closed: true}, // given up during the cut
		{Client: 3, ID: 2, At: at(1), Peer: clusterIP},         // open at the end
		{Client: 3, ID: 3, At: at(1), Peer: clusterIP},         // to another pod
		{Client: 3, ID: 6, At: at(1), Peer: other},
		{Client: 2, ID: 4, At: at(2), Peer: ip},
		{Client: 2, ID: 4, At: at(5), Peer: ip, Closed: true}, // closed before the cut
		{Client: 2, ID: 5, At: at(16), Peer: ip},              // opened after the restore
	}
	events := []load.StreamEvent{
		{Client: 4, Stream: 0, At: at(10.8), Kind: load.StreamOK, Seq: 1, Host: "pod-a"},
		{Client: 4, Stream: 1, At: at(10.8), Kind: load.StreamOK, Seq: 1, Host: "pod-b"},
		{Client: 4, Stream: 1, At: at(11.3), Kind: load.StreamOK, Seq: 2, Host: "pod-b"},
		{Client: 4, Stream: 0, At: at(13), Kind: load.StreamResume, Error: "grpc Unavailable: EOF"},
		{Client: 4, Stream: 0, At: at(13.2), Kind: load.StreamOK, Seq: 2, Host: "pod-c", Delay: 2200 * time.Millisecond},
		{Client: 4, Stream: 0, At: at(13.3), Kind: load.StreamOK, Seq: 3, Host: "pod-c"},
	}
	Fill(sc, samples, events, conns)
	p := sc.Phases[1]
	if p.Expected != 8 || p.ExpectedBy["plain: timeout"] != 3 || p.ExpectedBy["ingress: timeout"] != 2 || p.ExpectedBy["pinned: grpc DeadlineExceeded: deadline exceeded"] != 2 || p.ExpectedBy["gateway: timeout"] != 1 {
		t.Errorf("expected %d %v, want the timeouts of plain, ingress, pinned and gateway", p.Expected, p.ExpectedBy)
	}
	if p.Failed != 1 || p.FailedBy["rr"] != 1 || sc.Phases[0].Expected != 0 || sc.Phases[0].Failed != 1 {
		t.Errorf("failed %d by %v, steady %+v: want rr's call, and plain's steady timeout", p.Failed, p.FailedBy, sc.Phases[0])
	}
	figs := p.Partition.Clients
	last := func(i int) string {
		if figs[i].LastSent == nil {
			return "none"
		}
		return figs[i].LastSent.String()
	}
	for i, want := range []string{"4.2s", "2s", "3s", "1.5s", "none"} {
		if got := last(i); got != want {
			t.Errorf("%s: last sent to the silent pod %s after the cut, want %s", figs[i].Name, got, want)
		}
	}
	if f := figs[0]; f.Requests != 5 || f.Expected != 3 || f.Slow != 1 {
		t.Errorf("plain: %+v", f)
	}
	if f := figs[1]; f.RetrySaves != 1 || f.Expected != 2 {
		t.Errorf("ingress: %d saved by a retry of %d expected failures, want 1 of 2", f.RetrySaves, f.Expected)
	}
	if f := figs[5]; f.RetrySaves != 0 || f.Expected != 1 {
		t.Errorf("gateway: %d saved by a retry at the gateway, want 0: it enters the edge", f.RetrySaves)
	}
	if f := figs[2]; f.Requests != 6 || f.Failed != 1 || f.Slow != 1 || f.Retried != 1 || f.FailedAttempts != 1 {
		t.Errorf("rr: %+v", f)
	}
	if c := figs[2].Conns; len(c) != 1 || c[0].Open || c[0].ClosedAfter != 2*time.Second {
		t.Errorf("rr's connections to the silent pod: %+v, want one closed 2 s after the cut", c)
	}
	if c := figs[3].Conns; len(c) != 1 || !c[0].Open {
		t.Errorf("pinned's connections to the silent pod: %+v, want one open at the end", c)
	}
	if s := figs[4].Streams; len(s) != 1 || s[0] != (StreamNotice{Stream: 0, Next: 2200 * time.Millisecond, Host: "pod-c", Resumed: true}) || figs[4].MaxDelayMs != 2200 {
		t.Errorf("streams on the silent pod: %+v, max delay %v", s, figs[4].MaxDelayMs)
	}
	md := Markdown(&Run{Scenarios: []*Scenario{sc}})
	for _, w := range []string{
		"**partition one pod:** pod-a (10.217.0.5) cut off at 11.0 s",
		"took it out of the endpoints 4.0 s after the cut; restored 4.5 s after the cut, ready again 6.0 s after",
		"| plain | 5 | 0 | 3 | 1 | 0 | 0 | 4.20 s |",
		"| rr | 6 | 1 | 0 | 1 | 1 | 1 | 3.00 s | closed 2.0 s after the cut |",
		"| pinned | 3 | 0 | 2 | 0 | 0 | 0 | 1.50 s | open at the end |",
		"stream 0: resumed on pod-c, next event 2.2 s after the cut; max delay 2200 ms",
		"A retry at the ingress would have saved 1 of the 2 failures through it",
		"**partition one pod: expected and explained** (8;",
		"| plain: timeout | 3 | the request went to the silent pod",
	} {
		if !strings.Contains(md, w) {
			t.Errorf("run.md lacks %q:\n%s", w, md)
		}
	}
	if strings.Contains(md, "did not put the") {
		t.Errorf("run.md says the goal was not tested, though rr sent to the silent pod:\n%s", md)
	}
	sc.Phases[1].Partition.Clients[2].LastSent = nil
	if md := Markdown(&Run{Scenarios: []*Scenario{sc}}); !strings.Contains(md, "rr sent nothing to the silent pod after the cut") {
		t.Errorf("run.md does not say that rr's goal was not tested:\n%s", md)
	}
}
