package main

import (
	"strings"
	"testing"
)

// TestRoundOrderRotates checks that over as many rounds as there are sides,
// each side runs in each position exactly once, and that a round's order
// holds every side once.
func TestRoundOrderRotates(t *testing.T) {
	labels := []string{"A", "B", "P", "K"}
	sides := make([]server, len(labels))
	for i, l := range labels {
		sides[i].Label = l
	}
	var got []string
	positions := map[string]map[int]bool{}
	for round := 1; round <= 2*len(sides); round++ {
		order := roundOrder(sides, round)
		var names []string
		for pos, s := range order {
			names = append(names, s.Label)
			if positions[s.Label] == nil {
				positions[s.Label] = map[int]bool{}
			}
			positions[s.Label][pos] = true
		}
		got = append(got, strings.Join(names, ""))
	}
	want := []string{"ABPK", "BPKA", "PKAB", "KABP", "ABPK", "BPKA", "PKAB", "KABP"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("orders = %v, want %v", got, want)
	}
	for _, l := range labels {
		if len(positions[l]) != len(sides) {
			t.Errorf("side %s ran in positions %v, want every one of %d", l, positions[l], len(sides))
		}
	}
}
