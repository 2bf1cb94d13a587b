package lint

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// shapesFixture has one object of each kind kubectl get prints in a list of
// its own, each with something the rules flag, and objects that relate
// across kinds (a Service and a budget in front of the Deployment), so that
// a shape which loses an object, or loses the link between two, changes
// the findings.
var shapesFixture = []string{
	`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: web:latest
        ports: [{name: http, containerPort: 8080}]
`,
	`apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
`,
	`apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: shop}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: web}}
`,
	`apiVersion: apps/v1
kind: StatefulSet
metadata: {name: queue, namespace: shop}
spec:
  replicas: 3
  serviceName: queue
  selector: {matchLabels: {app: queue}}
  template:
    metadata: {labels: {app: queue}}
    spec:
      containers: [{name: queue, image: queue:1.0, ports: [{name: amqp, containerPort: 7000}]}]
`,
	`apiVersion: v1
kind: Service
metadata: {name: queue, namespace: shop}
spec:
  selector: {app: queue}
  ports: [{name: amqp, port: 7000, targetPort: amqp}]
`,
	`apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: shop}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: agent, ports: [{containerPort: 9100, hostPort: 9100}]}]
`,
	`apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: legacy, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: legacy}}
  template:
    metadata: {labels: {app: legacy}}
    spec:
      containers: [{name: legacy, image: legacy:1.0}]
`,
	`apiVersion: v1
kind: ReplicationController
metadata: {name: older, namespace: shop}
spec:
  replicas: 2
  selector: {app: older}
  template:
    metadata: {labels: {app: older}}
    spec:
      containers: [{name: older, image: older:1.0}]
`,
	`apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: shop}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: migrate, env: [{name: A, value: one}, {name: A, value: two}]}]
`,
	`apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: shop}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: nightly, image: nightly:main}]
`,
	`apiVersion: v1
kind: Pod
metadata: {name: debug, namespace: shop}
spec:
  containers: [{name: debug, image: busybox:1.36}]
`,
	`apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop}
data: {SHUTDOWN_DELAY: 5s}
`,
	`apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 4
`,
}

// objectMap parses a fixture document.
func objectMap(t *testing.T, doc string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func toYAML(t *testing.T, v any) string {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(j) + "\n"
}

// list is what kubectl get -o yaml prints for several objects.
func list(items []map[string]any) map[string]any {
	anys := make([]any, len(items))
	for i, it := range items {
		anys[i] = it
	}
	return map[string]any{"apiVersion": "v1", "kind": "List", "metadata": map[string]any{"resourceVersion": ""}, "items": anys}
}

// typedLists groups objects by kind into the typed lists the API server
// answers a list request with (DeploymentList, ServiceList, ...), whose
// items carry no apiVersion or kind unless keep says so.
func typedLists(items []map[string]any, keep bool) []map[string]any {
	var out []map[string]any
	byKind := map[string]int{}
	for _, it := range items {
		kind := it["kind"].(string)
		i, ok := byKind[kind]
		if !ok {
			i = len(out)
			byKind[kind] = i
			out = append(out, map[string]any{"apiVersion": it["apiVersion"], "kind": kind + "List", "metadata": map[string]any{"resourceVersion": "1"}, "items": []any{}})
		}
		item := map[string]any{}
		for k, v := range it {
			if keep || (k != "apiVersion" && k != "kind") {
				item[k] = v
			}
		}
		out[i]["items"] = append(out[i]["items"].([]any), item)
	}
	return out
}

// stream joins documents into one multi-document input.
func stream(docs []string) string { return strings.Join(docs, "---\n") }

// outcome is what a lint run made of an input: its findings without
// where in the text they are (a list's items have no lines of their own),
// and what it checked and skipped; or that it refused the input.
func outcome(t *testing.T, input string) (got []string, refused bool) {
	t.Helper()
	in, err := LoadReader(strings.NewReader(input), "in")
	if err != nil {
		return nil, true
	}
	r, err := Lint(in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range r.Findings {
		got = append(got, strings.Join([]string{string(f.Severity), f.Rule, f.Object(), f.Field, f.Message, f.Fix}, " | "))
	}
	got = append(got, fmt.Sprintf("checked %v skipped %v", r.Checked, r.Skipped))
	slices.Sort(got)
	if r.Errors > 0 && slices.ContainsFunc(r.Findings, func(f Finding) bool { return f.Rule == RuleSchema }) {
		refused = true // exits non-zero on an input it could not read
	}
	return got, refused
}

// TestInputShapes: every shape kubectl can print the same objects in, as
// YAML or JSON, is linted as the plain documents are, or refused; none
// passes with fewer findings (issue #26: a DeploymentList passed with 0).
func TestInputShapes(t *testing.T) {
	var items []map[string]any
	for _, doc := range shapesFixture {
		items = append(items, objectMap(t, doc))
	}
	want, refused := outcome(t, stream(shapesFixture))
	if refused || len(want) < 10 {
		t.Fatalf("the plain stream draws %d findings (refused: %v), want a linted input with findings of every kind:\n%s", len(want), refused, strings.Join(want, "\n"))
	}

	type shape struct {
		name  string
		input string
	}
	shapes := []shape{
		{"List", toYAML(t, list(items))},
		{"List in JSON", toJSON(t, list(items))},
		{"objects in JSON, one document each", func() string {
			var docs []string
			for _, it := range items {
				docs = append(docs, toJSON(t, it))
			}
			return stream(docs)
		}()},
	}
	for _, keep := range []bool{false, true} {
		var docs, jsons []string
		for _, l := range typedLists(items, keep) {
			docs = append(docs, toYAML(t, l))
			jsons = append(jsons, toJSON(t, l))
		}
		how := "items without apiVersion and kind, as the API server prints them"
		if keep {
			how = "items with apiVersion and kind"
		}
		shapes = append(shapes, shape{"typed lists, " + how, stream(docs)}, shape{"typed lists in JSON, " + how, stream(jsons)})
		lists := typedLists(items, keep)
		anys := make([]any, len(lists))
		for i := range lists {
			anys[i] = lists[i]
		}
		shapes = append(shapes, shape{"a List of typed lists, " + how, toYAML(t, map[string]any{"apiVersion": "v1", "kind": "List", "items": anys})})
	}
	for _, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			got, refused := outcome(t, s.input)
			if !refused && !slices.Equal(got, want) {
				t.Errorf("linted differently from the plain documents:\ngot\n%s\nwant\n%s\ninput:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), s.input)
			}
		})
	}

	// Each object alone: as a document, in JSON, in a List, and in its
	// typed list (DeploymentList, StatefulSetList, DaemonSetList,
	// ReplicaSetList, ReplicationControllerList, JobList, CronJobList, PodList, ServiceList,
	// PodDisruptionBudgetList, ConfigMapList, HorizontalPodAutoscalerList).
	for i, doc := range shapesFixture {
		it := items[i]
		kind := it["kind"].(string)
		want, refused := outcome(t, doc)
		if refused {
			t.Fatalf("%s alone is refused", kind)
		}
		typed := typedLists([]map[string]any{it}, false)[0]
		for name, input := range map[string]string{
			"JSON":               toJSON(t, it),
			"List":               toYAML(t, list([]map[string]any{it})),
			"List in JSON":       toJSON(t, list([]map[string]any{it})),
			kind + "List":        toYAML(t, typed),
			kind + "List (JSON)": toJSON(t, typed),
		} {
			t.Run(kind+" as "+name, func(t *testing.T) {
				got, refused := outcome(t, input)
				if !refused && !slices.Equal(got, want) {
					t.Errorf("linted differently from the plain document:\ngot\n%s\nwant\n%s\ninput:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), input)
				}
			})
		}
	}
}

// TestInputShapesRefused: a workload the text holds where the decoder does
// not look (in a template of another kind, in a JSON array) is not passed
// as linted: the load fails, or the run exits non-zero.
func TestInputShapesRefused(t *testing.T) {
	deployment := objectMap(t, shapesFixture[0])
	for name, input := range map[string]string{
		"in an OpenShift Template": toYAML(t, map[string]any{"apiVersion": "template.openshift.io/v1", "kind": "Template", "metadata": map[string]any{"name": "t"}, "objects": []any{deployment}}),
		"in a JSON array":          "[" + strings.TrimSpace(toJSON(t, deployment)) + "]\n",
		"in a custom list kind without items": toYAML(t, map[string]any{"apiVersion": "example.com/v1", "kind": "BundleList", "metadata": map[string]any{"name": "b"},
			"spec": map[string]any{"resources": []any{deployment}}}),
		"beside a read Deployment": stream([]string{shapesFixture[0], toYAML(t, map[string]any{"apiVersion": "example.com/v1", "kind": "Wrapper", "metadata": map[string]any{"name": "w"}, "spec": map[string]any{"workload": deployment}})}),
	} {
		t.Run(name, func(t *testing.T) {
			got, refused := outcome(t, input)
			if !refused {
				t.Errorf("passed as linted:\n%s", strings.Join(got, "\n"))
			}
		})
	}
	// A reference to a workload is not one: an HPA alone is linted.
	if _, refused := outcome(t, shapesFixture[len(shapesFixture)-1]); refused {
		t.Error("an HorizontalPodAutoscaler, which names its Deployment, is refused")
	}
	_, err := LoadReader(strings.NewReader(toYAML(t, map[string]any{"apiVersion": "template.openshift.io/v1", "kind": "Template", "metadata": map[string]any{"name": "t"}, "objects": []any{deployment}})), "t.yaml")
	if err == nil || !strings.Contains(err.Error(), "1 Deployment") || !strings.Contains(err.Error(), "t.yaml:1") {
		t.Errorf("error %v, want one that names the Deployment and where it is", err)
	}
}
