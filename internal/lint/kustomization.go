package lint

import (
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"
)

// Kustomization is one kustomization file of the tree that produced the
// input. The rendered objects no longer show how they were produced; the
// files do.
type Kustomization struct {
	Path string // the file, as found from the linted directory
	types.Kustomization
}

// kustomizationFile returns the kustomization file in dir, or "" if there is
// none, trying the names kustomize accepts in its order.
func kustomizationFile(dir string) string {
	for _, name := range konfig.RecognizedKustomizationFileNames() {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

// readKustomizations reads the kustomization in dir and, depth first, those of
// every local directory it builds on. Remote bases are skipped: the linter
// reports on what this repository controls.
func readKustomizations(dir string) ([]*Kustomization, error) {
	var out []*Kustomization
	seen := map[string]bool{}
	var walk func(dir string) error
	walk = func(dir string) error {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return fmt.Errorf("kustomization %s: %w", dir, err)
		}
		if seen[abs] {
			return nil
		}
		seen[abs] = true
		file := kustomizationFile(dir)
		if file == "" {
			return nil
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("read kustomization: %w", err)
		}
		k := &Kustomization{Path: filepath.ToSlash(file)}
		if err := yaml.Unmarshal(b, &k.Kustomization); err != nil {
			return fmt.Errorf("read %s: %w", file, err)
		}
		out = append(out, k)
		for _, list := range [][]string{k.Resources, k.Components, k.Bases} {
			for _, r := range list {
				sub := filepath.Join(dir, r)
				if fi, err := os.Stat(sub); err == nil && fi.IsDir() {
					if err := walk(sub); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	if err := walk(dir); err != nil {
		return nil, err
	}
	return out, nil
}
