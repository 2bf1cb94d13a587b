package lint

import (
	"fmt"
	"slices"
	"strconv"
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
	// Optional rules are conventions rather than rollout safety; they run
	// only when Options.Enable names them, to keep reports to what matters.
	Optional bool
	check    func(ix *index, e *emitter)
}

// Rules returns every rule in report order.
func Rules() []Rule {
	rules := []Rule{{ID: RuleSchema, Severity: Error, Summary: "every object decodes strictly into its k8s.io/api type (Gateway API's for routes and Gateways), with no unknown or removed fields or apiVersions"}}
	for _, group := range [][]Rule{
		graceRules(), probeRules(), rolloutRules(), singletonRules(), placementRules(),
		pdbRules(), serviceRules(), ingressRules(), routeRules(), hpaRules(), otelRules(),
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
	// Enable lists optional rules to run as well.
	Enable []string
	// KubeVersion is the cluster's Kubernetes version (1.33, v1.33.2):
	// advice that needs a newer feature is left out, and rules about a
	// feature the cluster lacks do not run. Empty means a supported release.
	KubeVersion string
}

// Lint runs every rule not skipped, and every optional rule enabled, on in.
func Lint(in *Input, opts Options) (Report, error) {
	rules := Rules()
	for _, id := range slices.Concat(opts.Skip, opts.Enable) {
		if !slices.ContainsFunc(rules, func(r Rule) bool { return r.ID == id }) {
			return Report{}, fmt.Errorf("unknown rule %q: the rules are %s", id, strings.Join(ruleIDs(rules), ", "))
		}
	}
	minor, err := kubeMinor(opts.KubeVersion)
	if err != nil {
		return Report{}, err
	}
	ix := newIndex(in)
	ix.kubeMinor = minor
	var findings []Finding
	if !slices.Contains(opts.Skip, RuleSchema) {
		findings = append(findings, in.problems...)
	}
	for _, r := range rules {
		if r.check == nil || slices.Contains(opts.Skip, r.ID) || (r.Optional && !slices.Contains(opts.Enable, r.ID)) {
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

// kubeMinor reads 1.33, v1.33 or v1.33.2 as 33; "" is 0, for any
// supported release.
func kubeMinor(v string) (int, error) {
	if v == "" {
		return 0, nil
	}
	parts := strings.Split(strings.TrimPrefix(v, "v"), ".")
	if len(parts) < 2 || parts[0] != "1" {
		return 0, fmt.Errorf("kube version %q: use the form 1.33", v)
	}
	n, err := strconv.Atoi(parts[1])
	if err != nil || n < 0 {
		return 0, fmt.Errorf("kube version %q: use the form 1.33", v)
	}
	return n, nil
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
