package lint

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Input is everything one lint run looks at. Rules that relate objects to
// each other (a PDB to its pods, an HPA to its Deployment) only make sense
// across the whole input, so inputs from several paths are merged into one.
type Input struct {
	Objects []*Object
	// Kustomizations are the kustomization files behind the objects, when
	// the input was a kustomize directory; the rules that only apply to
	// kustomize output (hashed ConfigMap names, deprecated fields) look here.
	Kustomizations []*Kustomization
	problems       []Finding // documents that did not decode
}

// Add merges other into in.
func (in *Input) Add(other *Input) {
	in.Objects = append(in.Objects, other.Objects...)
	in.Kustomizations = append(in.Kustomizations, other.Kustomizations...)
	in.problems = append(in.problems, other.problems...)
}

// IsKustomizeDir reports whether dir holds a kustomization file, the test
// kustomize itself uses to decide whether it can build a directory.
func IsKustomizeDir(dir string) bool {
	return kustomizationFile(dir) != ""
}

// LoadReader reads multi-document YAML from r; name is the source shown in
// findings ("-" for stdin).
func LoadReader(r io.Reader, name string) (*Input, error) {
	d := newDecoder()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(r))
	for n := 1; ; n++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			n--
			continue
		}
		d.decode(doc, fmt.Sprintf("%s#%d", name, n))
	}
	return &Input{Objects: d.objects, problems: d.problems}, nil
}

// LoadFile reads one YAML file.
func LoadFile(path string) (*Input, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return LoadReader(f, path)
}

// Render builds a kustomize directory in process, with the same defaults as
// `kubectl kustomize` (load restrictions on, no plugins, legacy kind order
// unless the kustomization sets sortOptions), and returns the YAML that
// command would print.
func Render(dir string) ([]byte, error) {
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionUnspecified
	k := krusty.MakeKustomizer(opts)
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	out, err := m.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	return out, nil
}

// LoadKustomize renders dir and reads its kustomization files, following
// local resources and components, so that deprecated fields and generator
// options anywhere in the tree are seen.
func LoadKustomize(dir string) (*Input, error) {
	out, err := Render(dir)
	if err != nil {
		return nil, err
	}
	in, err := LoadReader(bytes.NewReader(out), filepath.ToSlash(filepath.Clean(dir)))
	if err != nil {
		return nil, err
	}
	ks, err := readKustomizations(dir)
	if err != nil {
		return nil, err
	}
	in.Kustomizations = ks
	return in, nil
}
