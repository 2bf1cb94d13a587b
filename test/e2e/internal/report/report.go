// Package report turns the samples of one e2e run into per-phase figures and
// writes them as JSON (for tools and trend lines) and as a markdown table
// (for people and the README).
package report

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/zerodrop/zerodrop/test/e2e/internal/load"
)

// Phase is a window of the run: the steady state before any rollout, or one
// rollout from its command until no old pod remained.
type Phase struct {
	Name        string        `json:"name"`
	Kind        string        `json:"kind"` // steady, restart, set-image, version, undo
	Start       time.Duration `json:"start"`
	End         time.Duration `json:"end"`
	FromVersion string        `json:"from_version,omitempty"`
	ToVersion   string        `json:"to_version,omitempty"`

	Requests       int            `json:"requests"`
	Failed         int            `json:"failed"`
	Retried        int            `json:"retried"`         // requests that took more than one attempt
	FailedAttempts int            `json:"failed_attempts"` // gRPC attempts that failed, retried or not
	P50ms          float64        `json:"p50_ms"`
	P99ms          float64        `json:"p99_ms"`
	MaxMs          float64        `json:"max_ms"`
	Errors         map[string]int `json:"errors,omitempty"`
	FailedBy       map[string]int `json:"failed_by_client,omitempty"`
	VersionsSeen   map[string]int `json:"versions_seen,omitempty"`
	FinalVersions  map[string]int `json:"final_versions,omitempty"` // in the last second of the phase
}

// Scenario is one overlay's run through every phase.
type Scenario struct {
	Name     string      `json:"name"`
	Overlay  string      `json:"overlay"`
	Expect   string      `json:"expect"` // "no failures" or "failures"
	Clients  []load.Info `json:"clients"`
	Target   string      `json:"target"`
	Phases   []Phase     `json:"phases"`
	Requests int         `json:"requests"`
	Failed   int         `json:"failed"`
	// ByProtocol splits Requests and Failed into http and grpc.
	ByProtocol map[string]*Totals `json:"by_protocol"`
	// ByClient has each client's figures, in the order of Clients: which
	// connection policy a rollout slows down, or fails, shows only here.
	ByClient []ClientFigures `json:"by_client"`
	// Lint is what `scaffold lint` said of the overlay before it was applied.
	Lint      Lint    `json:"lint"`
	SteadyP99 float64 `json:"steady_p99_ms"`
	// RolloutP99 is the p99 of every request sent during a rollout phase.
	RolloutP99 float64       `json:"rollout_p99_ms"`
	Duration   time.Duration `json:"duration"`
	Problems   []string      `json:"problems,omitempty"`
}

// P99Factor is issue 6's latency target: the p99 during rollouts at most
// this many times the steady-state p99. The harness asserts it for the
// overlay that must not fail, and reports it for every scenario.
const P99Factor = 2.0

// Lint is the part of `scaffold lint -o json` the report keeps.
type Lint struct {
	Errors   int           `json:"errors"`
	Warnings int           `json:"warnings"`
	Findings []LintFinding `json:"findings"`
}

// LintFinding is one finding: which rule, and how bad.
type LintFinding struct {
	Rule     string `json:"rule"`
	Severity string `json:"severity"`
}

// ErrorRules lists the rules that found errors, in the linter's order.
func (l Lint) ErrorRules() []string {
	var rules []string
	for _, f := range l.Findings {
		if f.Severity == "error" {
			rules = append(rules, f.Rule)
		}
	}
	return rules
}

// ClientFigures are one client's requests, failures and latency in the
// steady phase and across the rollouts.
type ClientFigures struct {
	Name       string  `json:"name"`
	Requests   int     `json:"requests"`
	Failed     int     `json:"failed"`
	SteadyP99  float64 `json:"steady_p99_ms"`
	RolloutP99 float64 `json:"rollout_p99_ms"`
}

// Totals counts requests and failures.
type Totals struct {
	Requests int `json:"requests"`
	Failed   int `json:"failed"`
}

// Run is one `make e2e`.
type Run struct {
	StartedAt   time.Time          `json:"started_at"`
	Kubernetes  string             `json:"kubernetes"`
	Go          string             `json:"go"`
	Host        string             `json:"host"`
	Timings     map[string]float64 `json:"timings_s"`
	Scenarios   []*Scenario        `json:"scenarios"`
	Passed      bool               `json:"passed"`
	PassProblem []string           `json:"problems,omitempty"`
}

// Fill computes the figures of sc's phases from samples.
func Fill(sc *Scenario, samples []load.Sample) {
	var steady, rolling []time.Duration
	clientSteady := make([][]time.Duration, len(sc.Clients))
	clientRolling := make([][]time.Duration, len(sc.Clients))
	sc.ByClient = make([]ClientFigures, len(sc.Clients))
	for i, c := range sc.Clients {
		sc.ByClient[i].Name = c.Name
	}
	sc.Requests, sc.Failed = 0, 0
	sc.ByProtocol = map[string]*Totals{}
	for _, c := range sc.Clients {
		sc.ByProtocol[c.Protocol] = &Totals{}
	}
	for i := range sc.Phases {
		p := &sc.Phases[i]
		var lat []time.Duration
		p.Errors, p.FailedBy, p.VersionsSeen, p.FinalVersions = map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
		p.Requests, p.Failed, p.Retried, p.FailedAttempts = 0, 0, 0, 0
		for _, s := range samples {
			if s.At < p.Start || s.At >= p.End {
				continue
			}
			p.Requests++
			cf := &sc.ByClient[s.Client]
			cf.Requests++
			tot := sc.ByProtocol[sc.Clients[s.Client].Protocol]
			tot.Requests++
			if !s.OK {
				tot.Failed++
			}
			p.FailedAttempts += s.FailedAttempts
			if s.Conns > 1 {
				p.Retried++
			}
			if !s.OK {
				p.Failed++
				p.Errors[s.Error]++
				p.FailedBy[sc.Clients[s.Client].Name]++
				cf.Failed++
				continue
			}
			lat = append(lat, s.Latency)
			if p.Kind == "steady" {
				clientSteady[s.Client] = append(clientSteady[s.Client], s.Latency)
			} else {
				clientRolling[s.Client] = append(clientRolling[s.Client], s.Latency)
			}
			p.VersionsSeen[s.Version]++
			if s.At >= p.End-time.Second {
				p.FinalVersions[s.Version]++
			}
		}
		p.P50ms, p.P99ms, p.MaxMs = ms(quantile(lat, 0.5)), ms(quantile(lat, 0.99)), ms(quantile(lat, 1))
		sc.Requests += p.Requests
		sc.Failed += p.Failed
		if p.Kind == "steady" {
			steady = append(steady, lat...)
		} else {
			rolling = append(rolling, lat...)
		}
	}
	sc.SteadyP99, sc.RolloutP99 = ms(quantile(steady, 0.99)), ms(quantile(rolling, 0.99))
	for i := range sc.ByClient {
		sc.ByClient[i].SteadyP99, sc.ByClient[i].RolloutP99 = ms(quantile(clientSteady[i], 0.99)), ms(quantile(clientRolling[i], 0.99))
	}
}

func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Write writes run.json and run.md into dir.
func Write(dir string, r *Run) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("results dir: %w", err)
	}
	j, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "run.json"), append(j, '\n'), 0o644); err != nil {
		return fmt.Errorf("write run.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "run.md"), []byte(Markdown(r)), 0o644); err != nil {
		return fmt.Errorf("write run.md: %w", err)
	}
	return nil
}

// Markdown renders the run as tables, one per scenario.
func Markdown(r *Run) string {
	var b strings.Builder
	verdict := "PASSED"
	if !r.Passed {
		verdict = "FAILED"
	}
	fmt.Fprintf(&b, "# e2e run %s: %s\n\n", r.StartedAt.UTC().Format(time.RFC3339), verdict)
	fmt.Fprintf(&b, "Kubernetes %s (single node, kube-proxy iptables), %s, %s.\n\n", r.Kubernetes, r.Go, r.Host)
	if len(r.Timings) > 0 {
		b.WriteString("| stage | seconds |\n|---|---:|\n")
		for _, k := range slices.Sorted(maps.Keys(r.Timings)) {
			fmt.Fprintf(&b, "| %s | %.1f |\n", k, r.Timings[k])
		}
		b.WriteString("\n")
	}
	for _, p := range r.PassProblem {
		fmt.Fprintf(&b, "- **problem:** %s\n", p)
	}
	for _, sc := range r.Scenarios {
		fmt.Fprintf(&b, "## %s (`%s`, expected: %s)\n\n", sc.Name, sc.Overlay, sc.Expect)
		fmt.Fprintf(&b, "![timeline of %s](timeline-%s.png)\n\n", sc.Name, sc.Name)
		fmt.Fprintf(&b, "`scaffold lint %s`: %d errors, %d warnings", sc.Overlay, sc.Lint.Errors, sc.Lint.Warnings)
		if rules := sc.Lint.ErrorRules(); len(rules) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(rules, ", "))
		}
		b.WriteString(".\n\n")
		fmt.Fprintf(&b, "Load to `%s`:\n\n", sc.Target)
		for _, c := range sc.Clients {
			fmt.Fprintf(&b, "- %s: %s, %d/s, %s, timeout %v\n", c.Name, c.Protocol, c.Rate, c.Mode, c.Timeout)
		}
		b.WriteString("\n")
		b.WriteString("| phase | duration s | requests | failed | retried | failed gRPC attempts | p50 ms | p99 ms | max ms | versions seen | errors |\n")
		b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
		for _, p := range sc.Phases {
			fmt.Fprintf(&b, "| %s | %.1f | %d | %d | %d | %d | %.1f | %.1f | %.1f | %s | %s |\n",
				p.Name, (p.End - p.Start).Seconds(), p.Requests, p.Failed, p.Retried, p.FailedAttempts, p.P50ms, p.P99ms, p.MaxMs,
				counts(p.VersionsSeen), counts(p.Errors))
		}
		fmt.Fprintf(&b, "| **total** | %.1f | **%d** | **%d** | | | | | | | |\n\n", sc.Duration.Seconds(), sc.Requests, sc.Failed)
		for _, proto := range slices.Sorted(maps.Keys(sc.ByProtocol)) {
			t := sc.ByProtocol[proto]
			fmt.Fprintf(&b, "%s: %d failed of %d. ", proto, t.Failed, t.Requests)
		}
		fmt.Fprintf(&b, "p99 steady %.1f ms, during rollouts %.1f ms", sc.SteadyP99, sc.RolloutP99)
		if sc.SteadyP99 > 0 {
			ratio := sc.RolloutP99 / sc.SteadyP99
			verdict := "met"
			if ratio > P99Factor {
				verdict = "**not met**"
			}
			fmt.Fprintf(&b, " (%.2f×; target ≤ %g×: %s)", ratio, P99Factor, verdict)
		}
		b.WriteString(".\n\n")
		if len(sc.ByClient) > 0 {
			b.WriteString("| client | requests | failed | p99 steady ms | p99 rollouts ms | ratio |\n|---|---:|---:|---:|---:|---:|\n")
			for _, c := range sc.ByClient {
				ratio := "-"
				if c.SteadyP99 > 0 {
					ratio = fmt.Sprintf("%.2f×", c.RolloutP99/c.SteadyP99)
				}
				fmt.Fprintf(&b, "| %s | %d | %d | %.1f | %.1f | %s |\n", c.Name, c.Requests, c.Failed, c.SteadyP99, c.RolloutP99, ratio)
			}
			b.WriteString("\n")
		}
		for _, p := range sc.Problems {
			fmt.Fprintf(&b, "- **problem:** %s\n", p)
		}
		if len(sc.Problems) > 0 {
			b.WriteString("\n")
		}
	}
	return b.String()
}

func counts(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	keys := slices.Collect(maps.Keys(m))
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// WriteSamples writes every request of a scenario to path as gzipped JSON
// lines, for questions the tables do not answer (which client was slow, and
// when). Runs keep it in their own git-ignored directory: it is megabytes.
func WriteSamples(path string, samples []load.Sample) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("samples: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("samples: %w", cerr)
		}
	}()
	zw := gzip.NewWriter(f)
	enc := json.NewEncoder(zw)
	for i := range samples {
		if err := enc.Encode(&samples[i]); err != nil {
			return fmt.Errorf("samples: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("samples: %w", err)
	}
	return nil
}
