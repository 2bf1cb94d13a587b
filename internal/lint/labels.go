package lint

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// recommendedLabels are Kubernetes' recommended labels: tools (dashboards,
// cost reports, kubectl -l) find a service's objects by them.
func recommendedLabels() []string {
	return []string{
		"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
		"app.kubernetes.io/component", "app.kubernetes.io/part-of", "app.kubernetes.io/managed-by",
	}
}

// versionKeys are label keys that change with every release and so must
// never select pods.
func versionKeys() []string { return []string{"app.kubernetes.io/version", "version"} }

func labelRules() []Rule {
	return []Rule{
		{ID: "labels-recommended", Severity: Warning, check: checkRecommendedLabels, Optional: true,
			Summary: "workloads and their pods carry the six app.kubernetes.io labels (one finding per workload)"},
		{ID: "selector-mismatch", Severity: Error, check: checkSelectorMismatch,
			Summary: "every workload's selector matches its own pod template's labels"},
		{ID: "selector-version", Severity: Error, check: checkSelectorVersion,
			Summary: "no workload, Service or PodDisruptionBudget selector uses a version label, unless one object serves each version"},
		{ID: "kustomize-deprecated", Severity: Warning, check: checkKustomizeDeprecated,
			Summary: "kustomizations use no deprecated field (commonLabels, patchesStrategicMerge, patchesJson6902, vars, bases, imageTags)"},
	}
}

func missing(have map[string]string, want []string) []string {
	var out []string
	for _, k := range want {
		if _, ok := have[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}

// checkRecommendedLabels is a convention, not rollout safety, so it is
// optional, and it folds what the object and its pods miss into one finding.
func checkRecommendedLabels(ix *index, e *emitter) {
	for _, w := range ix.workloads {
		var parts []string
		field := ""
		for _, where := range []struct {
			field, what string
			labels      map[string]string
		}{{"metadata.labels", "the " + w.kind(), w.meta.Labels}, {w.templatePath() + ".metadata.labels", "its pods", w.template.Labels}} {
			if m := missing(where.labels, recommendedLabels()); len(m) > 0 {
				parts = append(parts, where.what+" lack "+strings.Join(m, ", "))
				field = cmp.Or(field, where.field)
			}
		}
		if len(parts) > 0 {
			e.addf(w.obj, field, "add them, in kustomize with a labels: entry (includeTemplates: true) rather than commonLabels",
				"missing recommended labels: %s", strings.Join(parts, "; "))
		}
	}
}

// checkSelectorMismatch: the API server rejects a workload whose selector
// does not match its template, so the apply fails and nothing rolls.
func checkSelectorMismatch(ix *index, e *emitter) {
	for _, w := range ix.workloads {
		if w.selector == nil {
			continue // Jobs select their own pods; a missing selector is schema-strict's
		}
		sel := labelSelector(w.selector)
		if sel != nil && sel.Matches(w.podLabels()) {
			continue
		}
		e.addf(w.obj, "spec.selector", "make spec.selector.matchLabels a subset of the template's labels (spec.template.metadata.labels)",
			"the selector %s does not match the pod template's labels: the API server rejects the %s (`selector` does not match template `labels`), so the apply fails", sel, w.kind())
	}
}

// checkSelectorVersion leaves alone the one-workload-per-version pattern
// (Istio's bookinfo: reviews-v1 and reviews-v2, each selecting its version,
// behind a Service that selects only app): there the version never changes
// under a selector, because a new version is a new object. It shows as the
// version in the object's name, or as workloads side by side that differ
// only in the version they select.
func checkSelectorVersion(ix *index, e *emitter) {
	report := func(o *Object, field string, keys []string, values map[string]string) {
		for _, k := range keys {
			if slices.Contains(versionKeys(), k) && !perVersion(ix, o, k, values) {
				e.addf(o, field, "select on app.kubernetes.io/name and app.kubernetes.io/instance only; keep the version as a plain label",
					"the selector uses %s, which changes with every release: a workload selector is immutable (the next version cannot be applied), and a Service or budget selects only one version's pods mid-rollout", k)
			}
		}
	}
	for _, w := range ix.workloads {
		report(w.obj, "spec.selector", selectorKeys(w.selector), matchLabels(w.selector))
	}
	for _, s := range ix.services {
		report(s.obj, "spec.selector", slices.Sorted(maps.Keys(s.v.Spec.Selector)), s.v.Spec.Selector)
	}
	for _, p := range ix.pdbs {
		report(p.obj, "spec.selector", selectorKeys(p.v.Spec.Selector), matchLabels(p.v.Spec.Selector))
	}
}

func matchLabels(ls *metav1.LabelSelector) map[string]string {
	if ls == nil {
		return nil
	}
	return ls.MatchLabels
}

// perVersion reports whether o's selector on version key k is the
// one-object-per-version pattern: o's name carries the version, or another
// workload of the namespace selects the same labels with another version.
func perVersion(ix *index, o *Object, k string, values map[string]string) bool {
	v, ok := values[k]
	if !ok || v == "" {
		return false
	}
	if strings.Contains(o.Name, v) {
		return true
	}
	for _, w := range ix.workloads {
		other := matchLabels(w.selector)
		if w.obj == o || !sameNamespace(w.obj, o) || other[k] == "" || other[k] == v {
			continue
		}
		if maps.EqualFunc(withoutKey(other, k), withoutKey(values, k), func(a, b string) bool { return a == b }) {
			return true
		}
	}
	return false
}

func withoutKey(m map[string]string, k string) map[string]string {
	out := maps.Clone(m)
	delete(out, k)
	return out
}

func selectorKeys(ls *metav1.LabelSelector) []string {
	if ls == nil {
		return nil
	}
	var keys []string
	for k := range ls.MatchLabels {
		keys = append(keys, k)
	}
	for _, r := range ls.MatchExpressions {
		keys = append(keys, r.Key)
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

func checkKustomizeDeprecated(ix *index, e *emitter) {
	for _, k := range ix.kustomizations {
		o := &Object{Kind: "Kustomization", Name: k.Path, Source: k.Path}
		for _, f := range []struct {
			field, use string
			used       bool
		}{
			{"commonLabels", "labels (with includeSelectors: false, so selectors stay as written)", len(k.CommonLabels) > 0},
			{"patchesStrategicMerge", "patches", len(k.PatchesStrategicMerge) > 0},
			{"patchesJson6902", "patches", len(k.PatchesJson6902) > 0},
			{"vars", "replacements", len(k.Vars) > 0},
			{"bases", "resources", len(k.Bases) > 0},
			{"imageTags", "images", len(k.ImageTags) > 0},
		} {
			if f.used {
				e.addf(o, f.field, "use "+f.use+" (`kustomize edit fix` migrates most of them)",
					"%s is deprecated (kustomize warns since v5.3) and will be removed", f.field)
			}
		}
	}
}
