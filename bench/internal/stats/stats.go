// Package stats summarises repeated measurements as a median with its range,
// the form every benchmark figure is reported in: on a shared, noisy machine
// a median of interleaved rounds is honest where a mean is not.
package stats

import (
	"math"
	"slices"
)

// Summary is a median with the smallest and largest value seen.
type Summary struct {
	Median, Min, Max float64
	N                int
}

// Summarize returns the summary of xs; the zero Summary when xs is empty.
func Summarize(xs []float64) Summary {
	if len(xs) == 0 {
		return Summary{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	mid := len(s) / 2
	med := s[mid]
	if len(s)%2 == 0 {
		med = (s[mid-1] + s[mid]) / 2
	}
	return Summary{Median: med, Min: s[0], Max: s[len(s)-1], N: len(s)}
}

// Ratio is a.Median / b.Median, or NaN when b's median is 0.
func Ratio(a, b Summary) float64 {
	if b.Median == 0 {
		return math.NaN()
	}
	return a.Median / b.Median
}
