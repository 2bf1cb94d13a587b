package main

import (
	"context"
	"path/filepath"
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

// takenPatches record changes since made to the template, measured against
// the code of their day; BENCHMARKS.md cites them for what each gained, and
// they no longer apply.
var takenPatches = map[string]bool{
	"grpc-access-log-only-when-kept.patch": true,
	"http-single-instrument.patch":         true,
}

// TestPatchesApply applies every other patch to a copy of today's
// example-service, the way -patch does, so that a template change cannot
// leave a measurement patch behind that -patch would refuse.
func TestPatchesApply(t *testing.T) {
	patches, err := filepath.Glob(filepath.Join("..", "..", "patches", "*.patch"))
	if err != nil || len(patches) == 0 {
		t.Fatalf("no patches found: %v", err)
	}
	for _, p := range patches {
		name := filepath.Base(p)
		if takenPatches[name] {
			continue
		}
		t.Run(name, func(t *testing.T) {
			abs, err := filepath.Abs(p)
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(t.TempDir(), "example-service")
			if err := patchedCopy(context.Background(), filepath.Join("..", "..", "..", "example-service"), []string{abs}, dst); err != nil {
				t.Errorf("%v; rewrite it against today's example-service, or list it in takenPatches if the template has taken it", err)
			}
		})
	}
}
