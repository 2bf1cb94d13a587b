package lint

import (
	"bytes"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the corpus's want.txt files from the linter's output")

const corpusDir = "testdata/corpus"

// loadCase loads a corpus case the way the CLI would: a kustomize directory,
// or the YAML files in it.
func loadCase(t *testing.T, dir string) *Input {
	t.Helper()
	if IsKustomizeDir(dir) {
		in, err := LoadKustomize(dir)
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("case %s has neither a kustomization nor YAML files", dir)
	}
	in := &Input{}
	for _, f := range files {
		part, err := LoadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		in.Add(part)
	}
	return in
}

// lintCase lints a case with its rule enabled when the rule is optional.
func lintCase(t *testing.T, dir string) Report {
	t.Helper()
	opts := Options{}
	if i := slices.IndexFunc(Rules(), func(r Rule) bool { return r.ID == caseRule(filepath.Base(dir)) }); i >= 0 && Rules()[i].Optional {
		opts.Enable = []string{Rules()[i].ID}
	}
	r, err := Lint(loadCase(t, dir), opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func ruleSet(r Report) []string {
	var ids []string
	for _, f := range r.Findings {
		ids = append(ids, f.Rule)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// caseRule is the rule a case breaks: its directory name, up to an optional
// "--variant".
func caseRule(name string) string {
	rule, _, _ := strings.Cut(name, "--")
	return rule
}

// expectedRules are the rules a case must be flagged by: its own, and those
// listed in its also.txt, one per line with the reason, for the few
// invariants that cannot be broken alone (a hostPort always breaks Pod
// Security too).
func expectedRules(t *testing.T, dir, name string) []string {
	t.Helper()
	rules := []string{caseRule(name)}
	b, err := os.ReadFile(filepath.Join(dir, "also.txt"))
	if errors.Is(err, fs.ErrNotExist) {
		return rules
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		id, reason, _ := strings.Cut(line, " ")
		if strings.TrimSpace(reason) == "" {
			t.Fatalf("%s/also.txt: %s has no reason", dir, id)
		}
		rules = append(rules, id)
	}
	slices.Sort(rules)
	return slices.Compact(rules)
}

func corpusCases(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != "base" {
			names = append(names, e.Name())
		}
	}
	return names
}

// TestCorpusBaseIsClean makes the corpus meaningful: each case differs from
// the base by one change, so the base must have no finding at all, optional
// rules included.
func TestCorpusBaseIsClean(t *testing.T) {
	var optional []string
	for _, r := range Rules() {
		if r.Optional {
			optional = append(optional, r.ID)
		}
	}
	r, err := Lint(loadCase(t, filepath.Join(corpusDir, "base")), Options{Enable: optional})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) > 0 {
		var b bytes.Buffer
		_ = WriteText(&b, r)
		t.Fatalf("the corpus base has findings:\n%s", b.String())
	}
	if r.Objects != 8 {
		t.Errorf("the corpus base has %d objects, want 8", r.Objects)
	}
}

// TestCorpus lints every broken manifest: each must be flagged by exactly
// the rule it breaks, and print what want.txt holds (-update rewrites it).
func TestCorpus(t *testing.T) {
	cases := corpusCases(t)
	if len(cases) < 20 {
		t.Fatalf("the corpus has %d cases, want at least 20", len(cases))
	}
	for _, name := range cases {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(corpusDir, name)
			r := lintCase(t, dir)
			if got, want := ruleSet(r), expectedRules(t, dir, name); !slices.Equal(got, want) {
				var b bytes.Buffer
				_ = WriteText(&b, r)
				t.Errorf("flagged by %v, want exactly %v:\n%s", got, want, b.String())
			}
			var out bytes.Buffer
			if err := WriteText(&out, r); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join(dir, "want.txt")
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/lint -run TestCorpus -update)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("output differs from %s (-update rewrites it):\n--- got\n%s--- want\n%s", golden, out.String(), want)
			}
		})
	}
}

// TestEveryRuleHasACase keeps the corpus complete as rules are added.
func TestEveryRuleHasACase(t *testing.T) {
	covered := map[string]bool{}
	for _, name := range corpusCases(t) {
		covered[caseRule(name)] = true
	}
	for _, r := range Rules() {
		if !covered[r.ID] {
			t.Errorf("rule %s has no case in %s", r.ID, corpusDir)
		}
	}
	for id := range covered {
		if !slices.ContainsFunc(Rules(), func(r Rule) bool { return r.ID == id }) {
			t.Errorf("corpus case for unknown rule %s", id)
		}
	}
}
