package lint

import (
	"strings"
	"testing"
)

// budgeted renders web (with replicas as given, "" for none, and pods
// labelled part-of: shop too) and a PodDisruptionBudget on its pods with
// the given spec fields (flow style; the selector defaults to app: web),
// then the extra documents.
func budgeted(replicas, budget string, extra ...string) string {
	const serving = "      containers: [{name: web, image: web:1.0, ports: [{containerPort: 8080}]}]\n"
	if !strings.Contains(budget, "selector") {
		budget += ", selector: {matchLabels: {app: web}}"
	}
	pdb := "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web}\nspec: {" + budget + "}\n"
	doc := strings.NewReplacer("replicas: 3", replicas, "labels: {app: web}", "labels: {app: web, part-of: shop}").Replace(web("", serving))
	return doc + "---\n" + strings.Join(append([]string{pdb}, extra...), "---\n")
}

// autoscaler scales Deployment name between min and 10 replicas.
func autoscaler(name, min string) string {
	return `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: ` + name + `}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: ` + name + `}
  minReplicas: ` + min + `
  maxReplicas: 10
`
}

// canary is a second Deployment whose pods carry app: web too, as a
// canary beside the stable Deployment does.
const canary = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web-canary}
spec:
  replicas: 1
  selector: {matchLabels: {app: web, track: canary}}
  template:
    metadata: {labels: {app: web, track: canary}}
    spec:
      containers: [{name: web, image: web:1.1, ports: [{containerPort: 8080}]}]
`

// migrate is a Job of the same application (part-of: shop).
const migrate = `apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  template:
    metadata: {labels: {app: migrate, part-of: shop}}
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: web:1.0}]
`

// agent is a DaemonSet of the same application (part-of: shop).
const agent = `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent, part-of: shop}}
    spec:
      containers: [{name: agent, image: agent:1.0}]
`

// TestPDBEvictions covers what the cluster proof's eviction and scale
// phases teach: a budget must allow an eviction at the workload's low point
// (the HPA's minReplicas), must not allow every pod to go at once, must be
// the only one on its pods, and must be computable by the disruption
// controller. Percentages resolve as the controller resolves them: against
// the expected pod count, rounding up for minAvailable and maxUnavailable
// alike.
func TestPDBEvictions(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		rule  string
		fires bool
		msg   string // substring of the message when it fires
	}{
		// pdb-blocks-eviction at the autoscaler's minimum.
		{"minAvailable equal to the HPA's minReplicas", budgeted("", "minAvailable: 2", autoscaler("web", "2")),
			"pdb-blocks-eviction", true, "2 replicas of Deployment web (the minReplicas of HorizontalPodAutoscaler web)"},
		{"minAvailable above the HPA's minReplicas", budgeted("", "minAvailable: 3", autoscaler("web", "2")), "pdb-blocks-eviction", true, "allows no eviction"},
		{"minAvailable below the HPA's minReplicas", budgeted("", "minAvailable: 2", autoscaler("web", "3")), "pdb-blocks-eviction", false, ""},
		{"the HPA's minimum counts, not spec.replicas", budgeted("replicas: 5", "minAvailable: 2", autoscaler("web", "2")), "pdb-blocks-eviction", true, "minReplicas"},
		{"maxUnavailable 0 at the HPA's minimum", budgeted("", "maxUnavailable: 0", autoscaler("web", "3")), "pdb-blocks-eviction", true, "3 replicas"},
		{"maxUnavailable 0% at 3 replicas", budgeted("replicas: 3", "maxUnavailable: 0%"), "pdb-blocks-eviction", true, ""},
		// Rounding up: floor would get these wrong.
		{"minAvailable 50% of minReplicas 1 rounds up to 1", budgeted("", "minAvailable: 50%", autoscaler("web", "1")), "pdb-blocks-eviction", true, "1 replica of Deployment web"},
		{"minAvailable 50% of 3 rounds up to 2, leaving 1", budgeted("replicas: 3", "minAvailable: 50%"), "pdb-blocks-eviction", false, ""},
		{"minAvailable 67% of 3 rounds up to 3", budgeted("replicas: 3", "minAvailable: 67%"), "pdb-blocks-eviction", true, ""},
		{"minAvailable 66% of minReplicas 3 rounds up to 2", budgeted("", "minAvailable: 66%", autoscaler("web", "3")), "pdb-blocks-eviction", false, ""},
		{"maxUnavailable 10% of 3 rounds up to 1", budgeted("replicas: 3", "maxUnavailable: 10%"), "pdb-blocks-eviction", false, ""},
		{"maxUnavailable 1% of minReplicas 2 rounds up to 1", budgeted("", "maxUnavailable: 1%", autoscaler("web", "2")), "pdb-blocks-eviction", false, ""},
		// The controller counts every workload the budget selects.
		{"minAvailable 3 across a stable 3 and a canary 1", budgeted("replicas: 3", "minAvailable: 3", canary), "pdb-blocks-eviction", false, ""},
		{"minAvailable 4 across a stable 3 and a canary 1", budgeted("replicas: 3", "minAvailable: 4", canary), "pdb-blocks-eviction", true, "4 pods across 3 replicas of Deployment web and 1 replica of Deployment web-canary"},

		// pdb-allows-outage: every pod may go at once.
		{"maxUnavailable 100%", budgeted("replicas: 3", "maxUnavailable: 100%"), "pdb-allows-outage", true, "allows 3 evictions at once"},
		{"minAvailable 0", budgeted("replicas: 3", "minAvailable: 0"), "pdb-allows-outage", true, "3 replicas of Deployment web"},
		{"minAvailable 0%", budgeted("replicas: 2", "minAvailable: 0%"), "pdb-allows-outage", true, ""},
		{"maxUnavailable above the replicas", budgeted("replicas: 3", "maxUnavailable: 5"), "pdb-allows-outage", true, "allows 3 evictions"},
		{"maxUnavailable equal to the HPA's minReplicas", budgeted("", "maxUnavailable: 2", autoscaler("web", "2")), "pdb-allows-outage", true, "minReplicas of HorizontalPodAutoscaler web"},
		{"maxUnavailable 51% of minReplicas 2 rounds up to 2", budgeted("", "maxUnavailable: 51%", autoscaler("web", "2")), "pdb-allows-outage", true, "allows 2 evictions"},
		{"maxUnavailable 50% of minReplicas 2 is 1", budgeted("", "maxUnavailable: 50%", autoscaler("web", "2")), "pdb-allows-outage", false, ""},
		{"maxUnavailable 34% of 3 rounds up to 2, leaving 1", budgeted("replicas: 3", "maxUnavailable: 34%"), "pdb-allows-outage", false, ""},
		{"minAvailable 1% of 3 rounds up to 1", budgeted("replicas: 3", "minAvailable: 1%"), "pdb-allows-outage", false, ""},
		{"maxUnavailable 1 at 3", budgeted("replicas: 3", "maxUnavailable: 1"), "pdb-allows-outage", false, ""},
		{"a worker that serves nothing", strings.Replace(budgeted("replicas: 3", "minAvailable: 0"), ", ports: [{containerPort: 8080}]", "", 1), "pdb-allows-outage", false, ""},
		{"maxUnavailable 1 across a stable 3 and a canary 1 keeps the stable pods", budgeted("replicas: 3", "maxUnavailable: 1", canary), "pdb-allows-outage", false, ""},
		{"maxUnavailable 4 across a stable 3 and a canary 1", budgeted("replicas: 3", "maxUnavailable: 4", canary), "pdb-allows-outage", true, "4 pods across"},
		// One replica, or an HPA that may scale to one, behind a budget that
		// lets its pod go: the outage is replicas-min's finding, on the
		// object to change, not a second one on the budget.
		{"one replica behind maxUnavailable 1 is not the budget's finding", budgeted("replicas: 1", "maxUnavailable: 1"), "pdb-allows-outage", false, ""},
		{"one replica behind maxUnavailable 1", budgeted("replicas: 1", "maxUnavailable: 1"), "replicas-min", true, "an eviction takes the service down"},
		{"HPA minReplicas 1 behind maxUnavailable 1 is not the budget's finding", budgeted("", "maxUnavailable: 1", autoscaler("web", "1")), "pdb-allows-outage", false, ""},
		{"HPA minReplicas 1 behind maxUnavailable 50%", budgeted("", "maxUnavailable: 50%", autoscaler("web", "1")), "replicas-min", true, "minReplicas is 1"},

		// pdb-overlap.
		{"two budgets on the same pods", budgeted("replicas: 3", "maxUnavailable: 1", "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web-2}\nspec: {maxUnavailable: 1, selector: {matchLabels: {part-of: shop}}}\n"),
			"pdb-overlap", true, "PodDisruptionBudget web selects the pods of Deployment web too"},
		{"an empty selector selects every pod of the namespace", budgeted("replicas: 3", "maxUnavailable: 1", "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: all}\nspec: {maxUnavailable: 1, selector: {}}\n"),
			"pdb-overlap", true, "refuses (500)"},
		{"a second budget in another namespace", budgeted("replicas: 3", "maxUnavailable: 1", "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web, namespace: other}\nspec: {maxUnavailable: 1, selector: {matchLabels: {app: web}}}\n"),
			"pdb-overlap", false, ""},
		{"a second budget on the canary only", budgeted("replicas: 3", "maxUnavailable: 1, selector: {matchLabels: {app: web, track: stable}}", canary,
			"apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: canary}\nspec: {maxUnavailable: 1, selector: {matchLabels: {track: canary}}}\n"),
			"pdb-overlap", false, ""},

		// pdb-no-scale.
		{"maxUnavailable across a Job's pods", budgeted("replicas: 3", "maxUnavailable: 1, selector: {matchLabels: {part-of: shop}}", migrate),
			"pdb-no-scale", true, "Job migrate, which has no scale subresource: with maxUnavailable"},
		{"a percentage minAvailable across a Job's pods", budgeted("replicas: 3", "minAvailable: 50%, selector: {matchLabels: {part-of: shop}}", migrate),
			"pdb-no-scale", true, "with a percentage minAvailable"},
		{"an integer minAvailable counts a Job's pods", budgeted("replicas: 3", "minAvailable: 1, selector: {matchLabels: {part-of: shop}}", migrate),
			"pdb-no-scale", false, ""},
		{"maxUnavailable across a DaemonSet's and a Deployment's pods", budgeted("replicas: 3", "maxUnavailable: 1, selector: {matchLabels: {part-of: shop}}", agent),
			"pdb-no-scale", true, "DaemonSet agent"},
		{"a budget the controller cannot compute is not also judged by its count", budgeted("replicas: 3", "maxUnavailable: 0, selector: {matchLabels: {part-of: shop}}", agent),
			"pdb-blocks-eviction", false, ""},
		{"maxUnavailable on a DaemonSet alone, whose pods drains skip", "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: agent}\nspec: {maxUnavailable: 1, selector: {matchLabels: {app: agent}}}\n---\n" + agent,
			"pdb-no-scale", false, ""},
		{"maxUnavailable on the Deployment's own labels", budgeted("replicas: 3", "maxUnavailable: 1", migrate, agent), "pdb-no-scale", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, fired := lintFires(t, tt.yaml, tt.rule, tt.fires)
			if fired && !strings.Contains(f.Message, tt.msg) {
				t.Errorf("%s says %q, want it to say %q", tt.rule, f.Message, tt.msg)
			}
			if fired && f.Fix == "" {
				t.Errorf("%s gives no fix", tt.rule)
			}
		})
	}
}

// TestPDBOverlapReportsEachPairOnce: a second budget over a stable and a
// canary Deployment is one mistake, reported once, on the second budget.
func TestPDBOverlapReportsEachPairOnce(t *testing.T) {
	r := lintString(t, budgeted("replicas: 3", "maxUnavailable: 1", canary,
		"apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web-2}\nspec: {maxUnavailable: 1, selector: {matchLabels: {app: web}}}\n"), Options{})
	var got []string
	for _, f := range r.Findings {
		if f.Rule == "pdb-overlap" {
			got = append(got, f.Name)
		}
	}
	if len(got) != 1 || got[0] != "web-2" {
		t.Errorf("pdb-overlap findings on %v, want one on web-2:\n%s", got, text(t, r))
	}
}
