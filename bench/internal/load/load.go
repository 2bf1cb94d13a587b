// Package load drives the servers with established load generators used as
// libraries: vegeta for HTTP and ghz for gRPC. Both are bounded by a duration
// and aim at loopback addresses only.
package load

import (
	"fmt"
	"net/http"
	"path/filepath"
	"runtime"
	"time"

	"github.com/bojand/ghz/runner"
	vegeta "github.com/tsenart/vegeta/v12/lib"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Result is one load run's outcome.
type Result struct {
	Requests, Failed int
	// Rate is successful requests per second over the whole run.
	Rate     float64
	P50, P99 time.Duration
	// Errors holds up to a few distinct error texts, for the log.
	Errors []string
	// Calls has every request's outcome when the load asked to keep them.
	Calls []Call
}

// Call is one request's outcome, for the shutdown figures, which need to know
// when each failed request was sent.
type Call struct {
	Sent   time.Time
	Failed bool
}

// HTTP is an HTTP/1.1 load on one URL.
type HTTP struct {
	URL string
	// Connections is both the worker count and the connection cap: each
	// worker keeps one keep-alive connection busy.
	Connections int
	// Rate is requests per second; 0 sends as fast as the workers can.
	Rate     int
	Duration time.Duration
	// KeepCalls asks for Result.Calls.
	KeepCalls bool
}

// Run attacks h.URL and summarises the results.
func (h HTTP) Run() Result {
	var calls []Call
	n := uint64(h.Connections)
	atk := vegeta.NewAttacker(
		vegeta.Workers(n), vegeta.MaxWorkers(n),
		vegeta.Connections(h.Connections), vegeta.MaxConnections(h.Connections),
		vegeta.KeepAlive(true), vegeta.Timeout(5*time.Second),
		vegeta.Redirects(vegeta.NoFollow),
	)
	tr := vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodGet, URL: h.URL})
	var m vegeta.Metrics
	for res := range atk.Attack(tr, vegeta.Rate{Freq: h.Rate, Per: time.Second}, h.Duration, "bench") {
		m.Add(res)
		if h.KeepCalls {
			calls = append(calls, Call{Sent: res.Timestamp, Failed: res.Error != "" || res.Code != http.StatusOK})
		}
	}
	m.Close()
	r := Result{
		Requests: int(m.Requests),
		Failed:   int(m.Requests) - int(float64(m.Requests)*m.Success+0.5),
		Rate:     m.Throughput,
		P50:      m.Latencies.P50,
		P99:      m.Latencies.P99,
		Calls:    calls,
	}
	if len(m.Errors) > 3 {
		m.Errors = m.Errors[:3]
	}
	r.Errors = m.Errors
	return r
}

// RPC is the unary method a gRPC load calls, and how ghz learns its types:
// from a .proto file or a serialized FileDescriptorSet, never from server
// reflection, which the baseline does not register.
type RPC struct {
	// Method is the method's full name, package.Service.Method.
	Method string
	// Proto is a .proto file that describes it; when empty, Protoset is.
	Proto    string
	Protoset []byte
	// Data is the request, as JSON-like values.
	Data map[string]any
}

// SayHello is the call the generated service, the baseline and the peers
// that serve the example's Greeter answer, described by the example's .proto
// file at proto.
func SayHello(proto string) RPC {
	return RPC{Method: "exampleservice.v1.Greeter.SayHello", Proto: proto, Data: map[string]any{"name": "bench"}}
}

// GRPC is a unary gRPC load on one method.
type GRPC struct {
	Addr string
	RPC  RPC
	// Concurrency is the number of callers, spread over Connections
	// HTTP/2 connections.
	Concurrency, Connections int
	// Rate is calls per second; 0 calls as fast as the callers can.
	Rate     int
	Duration time.Duration
	// KeepCalls asks for Result.Calls.
	KeepCalls bool
}

// Run calls g.Addr and summarises the results, like HTTP.Run.
func (g GRPC) Run() (Result, error) {
	// ghz sets GOMAXPROCS for the run and restores it to the machine's CPU
	// count, not to the pinned value; put that back afterwards.
	procs := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(procs)
	describe := runner.WithProtosetBinary(g.RPC.Protoset)
	if g.RPC.Proto != "" {
		describe = runner.WithProtoFile(g.RPC.Proto, []string{filepath.Dir(g.RPC.Proto)})
	}
	rep, err := runner.Run(g.RPC.Method, g.Addr,
		describe,
		runner.WithInsecure(true),
		runner.WithConcurrency(uint(g.Concurrency)),
		runner.WithConnections(uint(g.Connections)),
		runner.WithRPS(uint(g.Rate)),
		runner.WithRunDuration(g.Duration),
		runner.WithTimeout(5*time.Second),
		runner.WithDialTimeout(2*time.Second),
		runner.WithData(g.RPC.Data),
		runner.WithCPUs(uint(procs)),
		// Calls cut by the end of the run are not the server's failures.
		runner.WithDurationStopAction("wait"),
	)
	if err != nil {
		return Result{}, fmt.Errorf("ghz: %w", err)
	}
	r := Result{Requests: int(rep.Count)}
	for _, d := range rep.Details {
		failed := d.Error != "" || d.Status != "OK"
		if failed {
			r.Failed++
		}
		if g.KeepCalls {
			// ghz stamps a call with its end.
			r.Calls = append(r.Calls, Call{Sent: d.Timestamp.Add(-d.Latency), Failed: failed})
		}
	}
	for e := range rep.ErrorDist {
		if len(r.Errors) < 3 {
			r.Errors = append(r.Errors, e)
		}
	}
	if rep.Total > 0 {
		r.Rate = float64(r.Requests-r.Failed) / rep.Total.Seconds()
	}
	for _, l := range rep.LatencyDistribution {
		switch l.Percentage {
		case 50:
			r.P50 = l.Latency
		case 99:
			r.P99 = l.Latency
		}
	}
	return r, nil
}

// HealthCheck is grpc.health.v1.Health/Check for the whole server, for a
// peer that serves no Greeter. ghz learns its types from the descriptor
// compiled into grpc-go's health package, so no .proto file is needed.
func HealthCheck() RPC {
	fd := protodesc.ToFileDescriptorProto(healthpb.File_grpc_health_v1_health_proto)
	set, err := proto.Marshal(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{fd}})
	if err != nil {
		// A compiled-in descriptor always marshals.
		panic(fmt.Sprintf("marshal the health descriptor: %v", err))
	}
	return RPC{Method: "grpc.health.v1.Health.Check", Protoset: set, Data: map[string]any{}}
}
