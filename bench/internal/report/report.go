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

// Side is one server the figures were taken on.
type Side struct {
	// Label keys Figure.Values and names the side in ratio columns: A, B, or
	// a peer's letter.
	Label string
	// Name heads the side's column and its chart legend.
	Name string
}

// Figure is one measured quantity, for every side, in display units.
type Figure struct {
	Name string
	Unit string
	// Digits is how many decimals to print.
	Digits int
	// Values are the samples, by side label.
	Values map[string][]float64
	// Target is the goal the generated service (A) is held to, if any,
	// judged against the baseline (B).
	Target *Target
}

// Add records one sample for side.
func (f *Figure) Add(side string, v float64) {
	if f.Values == nil {
		f.Values = map[string][]float64{}
	}
	f.Values[side] = append(f.Values[side], v)
}

// Summary summarises side's samples.
func (f *Figure) Summary(side string) stats.Summary { return stats.Summarize(f.Values[side]) }

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

// Table renders the figures as a Markdown table: median (min–max) for each
// side, the ratio of each side to the baseline, the target and whether A met
// it. sides[0] is the generated service (A), sides[1] the baseline (B), the
// rest are peers.
func Table(figs []*Figure, sides []Side) string {
	a, b := sides[0].Label, sides[1].Label
	var sb strings.Builder
	sb.WriteString("| figure |")
	for _, s := range sides {
		fmt.Fprintf(&sb, " %s |", s.Name)
	}
	for _, s := range sides {
		if s.Label != b {
			fmt.Fprintf(&sb, " %s/%s |", s.Label, b)
		}
	}
	sb.WriteString(" target | met |\n|---|")
	sb.WriteString(strings.Repeat("---|", 2*len(sides)-1+2) + "\n")
	for _, f := range figs {
		fmt.Fprintf(&sb, "| %s |", f.Name)
		for _, s := range sides {
			fmt.Fprintf(&sb, " %s |", f.cell(f.Summary(s.Label)))
		}
		base := f.Summary(b)
		for _, s := range sides {
			if s.Label == b {
				continue
			}
			ratio := "–"
			if x := f.Summary(s.Label); base.N > 0 && x.N > 0 {
				if r := stats.Ratio(x, base); !math.IsNaN(r) {
					ratio = fmt.Sprintf("%.2f×", r)
				}
			}
			fmt.Fprintf(&sb, " %s |", ratio)
		}
		target, met := "–", "–"
		if sa := f.Summary(a); f.Target != nil && sa.N > 0 {
			target = f.Target.Text
			met = "**no**"
			if f.Target.Met(sa, base) {
				met = "yes"
			}
		}
		fmt.Fprintf(&sb, " %s | %s |\n", target, met)
	}
	return sb.String()
}

func (f *Figure) cell(s stats.Summary) string {
	if s.N == 0 {
		return "–"
	}
	v := func(x float64) string { return fmt.Sprintf("%.*f", f.Digits, x) }
	unit := ""
	if f.Unit != "" {
		unit = " " + f.Unit
	}
	if s.N == 1 || s.Min == s.Max {
		return v(s.Median) + unit
	}
	return fmt.Sprintf("%s%s (%s–%s)", v(s.Median), unit, v(s.Min), v(s.Max))
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
