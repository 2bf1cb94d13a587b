// Package report turns the benchmark figures into the Markdown table of
// BENCHMARKS.md and a PNG chart, from the same numbers, so that the two can
// never disagree.
package report

import (
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/zerodrop/zerodrop/bench/internal/stats"
)

// Figure is one measured quantity, for the generated service (A) and the
// baseline (B), in display units.
type Figure struct {
	Name string
	Unit string
	// Digits is how many decimals to print.
	Digits int
	A, B   []float64
	// Target is the goal the figure is held to, if any.
	Target *Target
}

// Target is a goal and the test of whether it was met.
type Target struct {
	Text string
	Met  func(a, b stats.Summary) bool
}

// AtMost is met when A's median is at most limit.
func AtMost(limit float64, text string) *Target {
	return &Target{Text: text, Met: func(a, _ stats.Summary) bool { return a.Median <= limit }}
}

// RatioAtLeast is met when A's median is at least r times B's.
func RatioAtLeast(r float64, text string) *Target {
	return &Target{Text: text, Met: func(a, b stats.Summary) bool { return stats.Ratio(a, b) >= r }}
}

// RatioAtMost is met when A's median is at most r times B's.
func RatioAtMost(r float64, text string) *Target {
	return &Target{Text: text, Met: func(a, b stats.Summary) bool { return stats.Ratio(a, b) <= r }}
}

// Summaries returns the summaries of A and B.
func (f *Figure) Summaries() (a, b stats.Summary) {
	return stats.Summarize(f.A), stats.Summarize(f.B)
}

// Table renders the figures as a Markdown table: median (min–max) for each
// side, the ratio A/B, the target and whether it was met. nameA and nameB
// head the two sides' columns.
func Table(figs []*Figure, nameA, nameB string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "| figure | %s | %s | A/B | target | met |\n", nameA, nameB)
	sb.WriteString("|---|---|---|---|---|---|\n")
	for _, f := range figs {
		a, b := f.Summaries()
		ratio := "–"
		if b.N > 0 {
			if r := stats.Ratio(a, b); !math.IsNaN(r) {
				ratio = fmt.Sprintf("%.2f×", r)
			}
		}
		target, met := "–", "–"
		if f.Target != nil && a.N > 0 {
			target = f.Target.Text
			met = "**no**"
			if f.Target.Met(a, b) {
				met = "yes"
			}
		}
		fmt.Fprintf(&sb, "| %s | %s | %s | %s | %s | %s |\n",
			f.Name, f.cell(a), f.cell(b), ratio, target, met)
	}
	return sb.String()
}

func (f *Figure) cell(s stats.Summary) string {
	if s.N == 0 {
		return "–"
	}
	v := func(x float64) string { return fmt.Sprintf("%.*f", f.Digits, x) }
	if s.N == 1 {
		return v(s.Median) + " " + f.Unit
	}
	return fmt.Sprintf("%s %s (%s–%s)", v(s.Median), f.Unit, v(s.Min), v(s.Max))
}

// Begin and End enclose the part of a document that Splice replaces.
const (
	Begin = "<!-- bench:begin (written by make bench) -->"
	End   = "<!-- bench:end -->"
)

// Splice replaces what lies between Begin and End in the file at path with
// body, leaving the hand-written text around it alone. A file without the
// markers gets them, with body, at its end.
func Splice(path, body string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	doc := string(old)
	block := Begin + "\n" + body + End + "\n"
	i, j := strings.Index(doc, Begin), strings.Index(doc, End)
	if i >= 0 && j > i {
		doc = doc[:i] + block + strings.TrimPrefix(doc[j+len(End):], "\n")
	} else {
		if doc != "" && !strings.HasSuffix(doc, "\n\n") {
			doc = strings.TrimRight(doc, "\n") + "\n\n"
		}
		doc += block
	}
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
