package lint

import (
	"fmt"
	"slices"
	"strings"
)

// RuleSchema is the rule behind documents that are not valid objects of
// their kind. It runs while loading, before every other rule.
const RuleSchema = "schema-strict"

// Rule is one invariant of a safe rollout. Each concern's file lists its
// rules as data next to the code that checks them, so that reading one file
// tells what is checked, how severe it is and why.
type Rule struct {
	ID       string
	Severity Severity
	Summary  string // the invariant, in one line, for help and docs
	check    func(ix *index, e *emitter)
}

// Rules returns every rule in report order.
func Rules() []Rule {
	rules := []Rule{{ID: RuleSchema, Severity: Error, Summary: "every object decodes strictly into its k8s.io/api type, with no unknown or removed fields or apiVersions"}}
	for _, group := range [][]Rule{
		graceRules(), probeRules(), rolloutRules(), placementRules(),
		pdbRules(), serviceRules(), ingressRules(), hpaRules(),
		configRules(), labelRules(), pssRules(), resourceRules(), containerRules(),
	} {
		rules = append(rules, group...)
	}
	return rules
}

// Options tune a lint run.
type Options struct {
	// Skip lists rule IDs not to run, for rules that do not apply to a
	// cluster (say, pss-restricted where restricted is not enforced).
	Skip []string
}

// Lint runs every rule not skipped on in.
func Lint(in *Input, opts Options) (Report, error) {
	rules := Rules()
	for _, id := range opts.Skip {
		if !slices.ContainsFunc(rules, func(r Rule) bool { return r.ID == id }) {
			return Report{}, fmt.Errorf("unknown rule %q: the rules are %s", id, strings.Join(ruleIDs(rules), ", "))
		}
	}
	ix := newIndex(in)
	var findings []Finding
	if !slices.Contains(opts.Skip, RuleSchema) {
		findings = append(findings, in.problems...)
	}
	for _, r := range rules {
		if r.check == nil || slices.Contains(opts.Skip, r.ID) {
			continue
		}
		e := &emitter{rule: r}
		r.check(ix, e)
		findings = append(findings, e.findings...)
	}
	order := map[string]int{}
	for i, o := range in.Objects {
		k := Finding{Kind: o.Kind, Namespace: o.Namespace, Name: o.Name}.Object()
		if _, ok := order[k]; !ok {
			order[k] = i
		}
	}
	checked, skipped := summarize(ix)
	return newReport(len(in.Objects), findings, order, checked, skipped), nil
}

func ruleIDs(rules []Rule) []string {
	ids := make([]string, len(rules))
	for i, r := range rules {
		ids[i] = r.ID
	}
	return ids
}

// emitter collects the findings of one rule, stamping them with its ID and
// severity so that a check cannot report under another rule's name.
type emitter struct {
	rule     Rule
	findings []Finding
}

func (e *emitter) add(o *Object, field, msg, fix string) {
	e.findings = append(e.findings, Finding{
		Rule: e.rule.ID, Severity: e.rule.Severity,
		Kind: o.Kind, Namespace: o.Namespace, Name: o.Name, Source: o.Source, Line: o.lineOf(field),
		Field: field, Message: msg, Fix: fix,
	})
}

func (e *emitter) addf(o *Object, field, fix, format string, args ...any) {
	e.add(o, field, fmt.Sprintf(format, args...), fix)
}
