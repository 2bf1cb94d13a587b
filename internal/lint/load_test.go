package lint

import (
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestLoadKustomize: objects name the file kustomize read them from, and
// kustomize's own warnings (printed straight to stderr) stay off the
// output, since kustomize-deprecated reports them as findings.
func TestLoadKustomize(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("base/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
	write("base/kustomization.yaml", "resources: [cm.yaml]\n")
	write("overlay/kustomization.yaml", "commonLabels: {team: x}\nbuildMetadata: [managedByLabel]\nresources: [../base]\nconfigMapGenerator: [{name: gen, literals: [k=v]}]\n")

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	in, err := LoadKustomize(filepath.Join(dir, "overlay"))
	os.Stderr = saved
	w.Close()
	leaked, _ := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(leaked) > 0 {
		t.Errorf("kustomize wrote to stderr: %s", leaked)
	}
	sources := map[string]string{}
	for _, o := range in.Objects {
		sources[strings.SplitN(o.Name, "-", 2)[0]] = o.Source
		if m := o.Typed.(*corev1.ConfigMap); m.Annotations["config.kubernetes.io/origin"] != "" {
			t.Errorf("%s keeps the origin annotation", o.Name)
		}
	}
	want := map[string]string{
		"a": filepath.ToSlash(filepath.Join(dir, "base", "cm.yaml")),
		// A generated object names the kustomization that generates it.
		"gen": filepath.ToSlash(filepath.Join(dir, "overlay", "kustomization.yaml")),
	}
	if !maps.Equal(sources, want) {
		t.Errorf("sources %v, want %v", sources, want)
	}
	rendered, err := Render(filepath.Join(dir, "overlay"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(rendered), "config.kubernetes.io/origin") {
		t.Errorf("Render, which must match kubectl kustomize, keeps origin annotations:\n%s", rendered)
	}
}
