package lint

import (
	"testing"

	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// TestFieldLine finds the line of a finding's field, or of the closest
// field that encloses it when it is missing.
func TestFieldLine(t *testing.T) {
	const doc = `# a comment
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers:
      - name: sidecar
        image: s:1
      - name: web
        image: web:1
        env:
        - name: A
          value: "1"
        - name: SHUTDOWN_DELAY
          value: 10s
      volumes:
      - name: v.1
        emptyDir: {}
`
	var root kyaml.Node
	if err := kyaml.Unmarshal([]byte(doc), &root); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{
		"":                2,
		"metadata.labels": 4,
		"spec.template.spec.containers[name=web]":                     11,
		"spec.template.spec.containers[name=web].readinessProbe":      11,
		"spec.template.spec.containers[name=web].env[SHUTDOWN_DELAY]": 16,
		"spec.template.spec.containers[1].image":                      12,
		"spec.template.spec.containers[name=gone].image":              8,
		"spec.template.spec.volumes[name=v.1]":                        19,
		"spec.strategy.rollingUpdate.maxSurge":                        5,
	} {
		if got := fieldLine(&root, path); got != want {
			t.Errorf("fieldLine(%q) = %d, want %d", path, got, want)
		}
	}
}
