package loadgen

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[int]time.Duration{50: 50 * time.Millisecond, 90: 90 * time.Millisecond, 99: 99 * time.Millisecond, 100: 100 * time.Millisecond} {
		if got := percentile(d, p); got != want {
			t.Errorf("p%d = %v, want %v", p, got, want)
		}
	}
	if percentile(nil, 99) != 0 {
		t.Error("percentile of nothing is not 0")
	}
}

func TestRunIsBoundedAndCounts(t *testing.T) {
	var retries Counter
	var n atomic.Int64 // calls run concurrently
	start := time.Now()
	r := Run(context.Background(), Config{Rate: 200, Duration: 300 * time.Millisecond}, &retries, func(context.Context) (string, error) {
		retries.Retry("m", 2, nil)
		if n.Add(1)%2 == 0 {
			return "", status.Error(codes.Unavailable, "down")
		}
		return "v1", nil
	})
	if took := time.Since(start); took > time.Second {
		t.Errorf("Run took %v for a 300ms run", took)
	}
	if r.Calls < 40 || r.Calls > 61 {
		t.Errorf("calls = %d at 200/s for 300ms", r.Calls)
	}
	if r.Failed != r.Codes["Unavailable"] || r.Calls != r.Codes["OK"]+r.Failed || r.Labels["v1"] != r.Codes["OK"] {
		t.Errorf("inconsistent report %+v", r)
	}
	if r.Retries != r.Calls || r.Attempts != 2*r.Calls {
		t.Errorf("attempts %d, retries %d for %d calls each retried once", r.Attempts, r.Retries, r.Calls)
	}
}
