package lint

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

func loadString(t *testing.T, yaml string) *Input {
	t.Helper()
	in, err := LoadReader(strings.NewReader(yaml), "in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name      string
		yaml      string
		objects   int
		typed     int
		problem   string // substring of the one schema-strict finding; "" for none
		problemOn string // its object
	}{
		{name: "empty and comment-only documents", yaml: "---\n# nothing\n---\n\n", objects: 0},
		{name: "typed object", yaml: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n", objects: 1, typed: 1},
		{name: "custom resources are kept untyped", yaml: "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: c}\nspec: {anything: goes}\n", objects: 1},
		{name: "unknown field", yaml: "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {selectr: {app: a}}\n",
			objects: 1, problem: `unknown field "spec.selectr"`, problemOn: "Service/s"},
		{name: "field names are case-sensitive", yaml: "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {Selector: {app: a}}\n",
			objects: 1, problem: `unknown field "spec.Selector"`, problemOn: "Service/s"},
		{name: "duplicate field", yaml: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\ndata: {k: w}\n",
			objects: 1, problem: `"data" already set`, problemOn: "ConfigMap/a"},
		{name: "wrong type", yaml: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: three}\n",
			objects: 1, problem: "replicas", problemOn: "Deployment/d"},
		{name: "removed apiVersion", yaml: "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: p}\n",
			objects: 1, problem: "removed in Kubernetes 1.25", problemOn: "PodDisruptionBudget/p"},
		{name: "no kind", yaml: "apiVersion: v1\nmetadata: {name: x}\n", problem: "no apiVersion or kind", problemOn: "Object/x"},
		{name: "Gateway API v1 routes and Gateway are typed", yaml: stream([]string{
			"apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: h}\nspec: {parentRefs: [{name: gw}], rules: [{backendRefs: [{name: s, port: 80}], timeouts: {request: 10s}}]}\n",
			"apiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\nmetadata: {name: g}\nspec: {parentRefs: [{name: gw}], rules: [{backendRefs: [{name: s, port: 9090}]}]}\n",
			"apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec: {gatewayClassName: traefik, listeners: [{name: http, protocol: HTTP, port: 80}]}\n",
		}), objects: 3, typed: 3},
		{name: "Gateway API v1beta1 HTTPRoute and Gateway are still served", yaml: stream([]string{
			"apiVersion: gateway.networking.k8s.io/v1beta1\nkind: HTTPRoute\nmetadata: {name: h}\nspec: {rules: [{backendRefs: [{name: s, port: 80}]}]}\n",
			"apiVersion: gateway.networking.k8s.io/v1beta1\nkind: Gateway\nmetadata: {name: gw}\nspec: {gatewayClassName: traefik, listeners: [{name: http, protocol: HTTP, port: 80}]}\n",
		}), objects: 2, typed: 2},
		{name: "a misspelt route field", yaml: "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: h}\nspec: {rules: [{backendRefs: [{name: s, port: 80}], timeout: {request: 10s}}]}\n",
			objects: 1, problem: `unknown field "spec.rules[0].timeout"`, problemOn: "HTTPRoute/h"},
		{name: "GRPCRoute has no timeouts in Gateway API v1", yaml: "apiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\nmetadata: {name: g}\nspec: {rules: [{backendRefs: [{name: s, port: 9090}], timeouts: {request: 10s}}]}\n",
			objects: 1, problem: `unknown field "spec.rules[0].timeouts"`, problemOn: "GRPCRoute/g"},
		{name: "v1alpha2 GRPCRoute is no longer served", yaml: "apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: GRPCRoute\nmetadata: {name: g}\nspec: {rules: [{backendRefs: [{name: s, port: 9090}]}]}\n",
			objects: 1, problem: "no longer served by the Gateway API CRDs since v1.2", problemOn: "GRPCRoute/g"},
		{name: "other Gateway API kinds are custom resources", yaml: "apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\nmetadata: {name: t}\nspec: {rules: [{backendRefs: [{name: s, port: 5432}]}]}\n",
			objects: 1},
		{name: "List is unpacked", yaml: "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n",
			objects: 2, typed: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := loadString(t, tt.yaml)
			typed := 0
			for _, o := range in.Objects {
				if o.Typed != nil {
					typed++
				}
			}
			if len(in.Objects) != tt.objects || typed != tt.typed {
				t.Errorf("%d objects, %d typed; want %d, %d", len(in.Objects), typed, tt.objects, tt.typed)
			}
			switch {
			case tt.problem == "" && len(in.problems) > 0:
				t.Errorf("unexpected problems: %+v", in.problems)
			case tt.problem != "" && (len(in.problems) != 1 || !strings.Contains(in.problems[0].Message, tt.problem) ||
				in.problems[0].Object() != tt.problemOn || in.problems[0].Rule != RuleSchema):
				t.Errorf("problems %+v, want one schema-strict on %s containing %q", in.problems, tt.problemOn, tt.problem)
			}
		})
	}
}

func TestDecodeYAMLSyntaxError(t *testing.T) {
	_, err := LoadReader(strings.NewReader("a: [unclosed\n"), "in.yaml")
	in := loadString(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\na: b: c\n")
	if err == nil && len(in.problems) == 0 {
		t.Error("broken YAML went unreported")
	}
}

// TestDecodeHelmTemplate: a raw Helm template is not YAML, and the fix says
// to render it first.
func TestDecodeHelmTemplate(t *testing.T) {
	in := loadString(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n{{- if .Values.enabled }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n{{- end }}\n")
	if len(in.problems) != 1 || !strings.Contains(in.problems[0].Fix, "helm template") || in.problems[0].Line != 5 || in.problems[0].Object() != "Document/in.yaml:5" {
		t.Errorf("problems %+v, want one at in.yaml:5 whose fix says to run helm template", in.problems)
	}
}

func TestDecodeKeepsLines(t *testing.T) {
	in := loadString(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\n# d\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n")
	if got := in.Objects[1]; got.Source != "in.yaml" || got.Line != 6 {
		t.Errorf("source %s:%d, want in.yaml:6", got.Source, got.Line)
	}
	if got := in.Objects[1].lineOf("metadata.name"); got != 9 {
		t.Errorf("metadata.name at line %d, want 9", got)
	}
	if _, ok := in.Objects[1].Typed.(*appsv1.Deployment); !ok {
		t.Errorf("typed as %T", in.Objects[1].Typed)
	}
}

// FuzzLoadReader: whatever the input, loading and linting report problems
// instead of panicking.
func FuzzLoadReader(f *testing.F) {
	f.Add("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  strategy: {rollingUpdate: {maxSurge: 50%, maxUnavailable: \"x\"}}\n")
	f.Add("apiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: Service, metadata: {name: s}, spec: {clusterIP: None, publishNotReadyAddresses: true}}]\n")
	f.Add("apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: p}\nspec: {minAvailable: 200%, selector: {matchExpressions: [{key: a, operator: Bad}]}}\n")
	f.Add("apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: r}\nspec: {template: {spec: {hostNetwork: true, containers: [{name: a, ports: [{containerPort: 1}]}]}}}\n")
	f.Add("apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec: {jobTemplate: {spec: {template: {spec: {containers: [{name: a, image: a, env: [{name: X}, {name: X}]}]}}}}}\n")
	f.Fuzz(func(t *testing.T, s string) {
		in, err := LoadReader(strings.NewReader(s), "fuzz")
		if err != nil {
			return
		}
		if _, err := Lint(in, Options{}); err != nil {
			t.Fatal(err)
		}
	})
}
