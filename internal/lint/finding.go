package lint

import (
	"cmp"
	"slices"
)

// Severity decides the exit code: errors are configurations that drop
// requests or stall a rollout; warnings weaken it without breaking it.
type Severity string

// Severities.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// Finding is one problem in one object. It carries the fix as well as the
// problem because the reader of a lint report is usually not the person who
// wrote the manifest, and needs to know what to change, not only what is wrong.
type Finding struct {
	Rule      string   `json:"rule"`
	Severity  Severity `json:"severity"`
	Kind      string   `json:"kind"`
	Namespace string   `json:"namespace,omitempty"`
	Name      string   `json:"name"`
	Source    string   `json:"source,omitempty"` // file (#document) or kustomize directory
	Field     string   `json:"field"`
	Message   string   `json:"message"`
	Fix       string   `json:"fix"`
}

// Object names the finding's object the way kubectl does.
func (f Finding) Object() string {
	if f.Namespace != "" {
		return f.Kind + "/" + f.Namespace + "/" + f.Name
	}
	return f.Kind + "/" + f.Name
}

// Report is the result of linting one input.
type Report struct {
	Objects  int       `json:"objects"`
	Errors   int       `json:"errors"`
	Warnings int       `json:"warnings"`
	Findings []Finding `json:"findings"`
}

// newReport sorts findings so that output is stable across runs and map
// iteration orders: by source order of the object, then rule, then field.
func newReport(objects int, findings []Finding, order map[string]int) Report {
	slices.SortStableFunc(findings, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(order[a.Object()], order[b.Object()]),
			cmp.Compare(a.Object(), b.Object()),
			cmp.Compare(a.Field, b.Field),
			cmp.Compare(a.Rule, b.Rule),
			cmp.Compare(a.Message, b.Message),
		)
	})
	r := Report{Objects: objects, Findings: findings}
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	for _, f := range findings {
		if f.Severity == Error {
			r.Errors++
		} else {
			r.Warnings++
		}
	}
	return r
}
