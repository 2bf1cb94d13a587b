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
	Source    string   `json:"source,omitempty"` // file, or kustomize directory
	Line      int      `json:"line,omitempty"`   // line of Source holding the field (or what encloses it); 0 when unknown
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
	// Checked counts the workloads the rules read, by kind; Skipped the
	// objects that own pods the rules could not read, by kind and reason. A
	// clean report is only as good as what it looked at, so it says both.
	Checked []KindCount `json:"checked"`
	Skipped []KindCount `json:"skipped"`
}

// KindCount is a number of objects of one kind in the summary.
type KindCount struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind"`
	Count      int    `json:"count"`
	Reason     string `json:"reason,omitempty"` // why they were skipped
}

// workloadKinds is the order in which the summary counts checked kinds.
func workloadKinds() []string {
	return []string{"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob", "Rollout"}
}

// summarize counts what the rules checked and skipped.
func summarize(ix *index) (checked, skipped []KindCount) {
	checked, skipped = []KindCount{}, []KindCount{}
	for _, kind := range workloadKinds() {
		n := 0
		for _, w := range ix.workloads {
			if w.kind() == kind {
				n++
			}
		}
		if n > 0 {
			checked = append(checked, KindCount{Kind: kind, Count: n})
		}
	}
	for _, s := range ix.skipped {
		i := slices.IndexFunc(skipped, func(k KindCount) bool {
			return k.APIVersion == s.apiVersion && k.Kind == s.kind && k.Reason == s.reason
		})
		if i < 0 {
			skipped = append(skipped, KindCount{APIVersion: s.apiVersion, Kind: s.kind, Reason: s.reason})
			i = len(skipped) - 1
		}
		skipped[i].Count++
	}
	slices.SortFunc(skipped, func(a, b KindCount) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.APIVersion, b.APIVersion), cmp.Compare(a.Reason, b.Reason))
	})
	return checked, skipped
}

// newReport sorts findings so that output is stable across runs and map
// iteration orders: by source order of the object, then rule, then field.
func newReport(objects int, findings []Finding, order map[string]int, checked, skipped []KindCount) Report {
	slices.SortStableFunc(findings, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(order[a.Object()], order[b.Object()]),
			cmp.Compare(a.Object(), b.Object()),
			cmp.Compare(a.Field, b.Field),
			cmp.Compare(a.Rule, b.Rule),
			cmp.Compare(a.Message, b.Message),
		)
	})
	r := Report{Objects: objects, Findings: findings, Checked: checked, Skipped: skipped}
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
