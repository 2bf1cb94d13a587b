// Package loadgen sends a bounded, constant rate of calls and reports what
// happened honestly: final outcomes by status code, latency percentiles, and
// attempts apart from calls, so that retries that hid a failure stay visible.
package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/status"
)

// Config bounds a run. Both bounds apply; the run also ends when ctx does.
type Config struct {
	Rate     int           // calls per second
	Duration time.Duration // how long to send
	// MaxInFlight caps concurrent calls; a tick that finds the cap reached is
	// counted as Skipped rather than queued, so the rate stays honest.
	MaxInFlight int
}

// Call makes one call. label is reported per value (e.g. the version that
// answered); err's gRPC status code is reported per code.
type Call func(ctx context.Context) (label string, err error)

// Report is the outcome of a run.
type Report struct {
	Calls     int64            `json:"calls"`
	Failed    int64            `json:"failedCalls"`
	Skipped   int64            `json:"skipped"`
	Attempts  int64            `json:"attempts"`
	Retries   int64            `json:"retries"`
	Hedges    int64            `json:"hedges"`
	Codes     map[string]int64 `json:"codes"`
	Labels    map[string]int64 `json:"labels"`
	P50       time.Duration    `json:"p50"`
	P90       time.Duration    `json:"p90"`
	P99       time.Duration    `json:"p99"`
	Max       time.Duration    `json:"max"`
	Elapsed   time.Duration    `json:"elapsed"`
	RateCalls float64          `json:"callsPerSecond"`
}

// Counter counts the retries and hedges that the client reports (see
// client.WithOnRetry and client.WithOnHedge).
type Counter struct{ retries, hedges atomic.Int64 }

// Retry records one retry.
func (c *Counter) Retry(string, uint, error) { c.retries.Add(1) }

// Hedge records one hedge.
func (c *Counter) Hedge(string, uint) { c.hedges.Add(1) }

// Run sends calls at cfg.Rate until cfg.Duration passes or ctx ends, waits
// for calls in flight, and reports. retries may be nil.
func Run(ctx context.Context, cfg Config, retries *Counter, call Call) Report {
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 1024
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var (
		mu        sync.Mutex
		latencies []time.Duration
		r         = Report{Codes: map[string]int64{}, Labels: map[string]int64{}}
		wg        sync.WaitGroup
		inFlight  = make(chan struct{}, cfg.MaxInFlight)
	)
	start := time.Now()
	ticker := time.NewTicker(time.Second / time.Duration(cfg.Rate))
	defer ticker.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-ticker.C:
		}
		select {
		case inFlight <- struct{}{}:
		default:
			mu.Lock()
			r.Skipped++
			mu.Unlock()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-inFlight }()
			// Calls get their own context: the run ending must not cancel
			// calls in flight and count them as failures.
			t0 := time.Now()
			label, err := call(context.Background())
			took := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			r.Calls++
			latencies = append(latencies, took)
			r.Codes[status.Code(err).String()]++
			if err != nil {
				r.Failed++
				return
			}
			r.Labels[label]++
		}()
	}
	wg.Wait()
	r.Elapsed = time.Since(start)
	if retries != nil {
		r.Retries, r.Hedges = retries.retries.Load(), retries.hedges.Load()
	}
	r.Attempts = r.Calls + r.Retries + r.Hedges
	if r.Elapsed > 0 {
		r.RateCalls = float64(r.Calls) / r.Elapsed.Seconds()
	}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	r.P50, r.P90, r.P99 = percentile(latencies, 50), percentile(latencies, 90), percentile(latencies, 99)
	if n := len(latencies); n > 0 {
		r.Max = latencies[n-1]
	}
	return r
}

// percentile is the nearest-rank percentile of sorted.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	if i < 1 {
		i = 1
	}
	return sorted[i-1]
}

// WriteText prints the report for people.
func (r Report) WriteText(w io.Writer) error {
	_, err := fmt.Fprintf(w, `calls      %d in %v (%.1f/s), %d failed, %d skipped (in-flight cap)
attempts   %d (%d retries, each after a failed attempt; %d hedges, each beside a slow one)
codes      %v
labels     %v
latency    p50 %v  p90 %v  p99 %v  max %v
`, r.Calls, r.Elapsed.Round(time.Millisecond), r.RateCalls, r.Failed, r.Skipped,
		r.Attempts, r.Retries, r.Hedges, r.Codes, r.Labels,
		r.P50.Round(time.Microsecond), r.P90.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Max.Round(time.Microsecond))
	return err
}

// WriteJSON prints the report for programs.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
