package lint

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
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
	docs, err := splitDocuments(r, name)
	if err != nil {
		return nil, err
	}
	d := newDecoder()
	for _, doc := range docs {
		if len(bytes.TrimSpace(doc.text)) > 0 {
			d.decodeDocument(doc.text, name, doc.line)
		}
	}
	if err := d.err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
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
	m, err := build(dir, dir, filesys.MakeFsOnDisk())
	if err != nil {
		return nil, err
	}
	out, err := m.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	return out, nil
}

// LoadKustomize renders dir and reads its kustomization files, following
// local resources and components, so that deprecated fields and generator
// options anywhere in the tree are seen. Each object's Source is the file
// kustomize read it from (or the kustomization whose generator made it),
// from kustomize's origin tracking; the rendered text has no lines of its
// own to point at.
func LoadKustomize(dir string) (*Input, error) {
	m, err := renderWithOrigins(dir)
	if err != nil {
		return nil, err
	}
	d := newDecoder()
	root := filepath.ToSlash(filepath.Clean(dir))
	for _, r := range m.Resources() {
		source := root
		if o, err := r.GetOrigin(); err == nil && o != nil {
			source = originSource(dir, o)
		}
		if err := r.SetOrigin(nil); err != nil {
			return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
		}
		doc, err := r.AsYAML()
		if err != nil {
			return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
		}
		d.decodeDocument(doc, source, 0)
	}
	if err := d.err(); err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	ks, err := readKustomizations(dir)
	if err != nil {
		return nil, err
	}
	return &Input{Objects: d.objects, problems: d.problems, Kustomizations: ks}, nil
}

// originSource names where kustomize found a resource, as a path from the
// working directory (or repo//path for a remote base).
func originSource(dir string, o *resource.Origin) string {
	p := cmp.Or(o.Path, o.ConfiguredIn)
	switch {
	case p == "":
		return filepath.ToSlash(filepath.Clean(dir))
	case o.Repo != "":
		return o.Repo + "//" + p
	}
	return filepath.ToSlash(filepath.Clean(filepath.Join(dir, p)))
}

// stderrMu guards the swap of os.Stderr in build.
var stderrMu sync.Mutex

// build runs kustomize on dir with kubectl's defaults (name is dir as the
// user gave it, for errors), with its deprecation
// warnings silenced: kustomize prints them straight to os.Stderr, where they
// would interleave with the report, and kustomize-deprecated reports the
// same fields as findings.
func build(name, dir string, fs filesys.FileSystem) (resmap.ResMap, error) {
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionUnspecified
	stderrMu.Lock()
	defer stderrMu.Unlock()
	if null, err := os.Open(os.DevNull); err == nil {
		saved := os.Stderr
		os.Stderr = null
		defer func() { os.Stderr = saved; null.Close() }()
	}
	m, err := krusty.MakeKustomizer(opts).Run(fs, dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", name, err)
	}
	return m, nil
}

// renderWithOrigins builds dir as Render does, with kustomize's origin
// annotations kept: the root kustomization is read with originAnnotations
// added to its buildMetadata.
func renderWithOrigins(dir string) (resmap.ResMap, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	return build(dir, abs, originFS{FileSystem: filesys.MakeFsOnDisk(), root: abs})
}

// originFS reads the kustomization at root with originAnnotations in its
// buildMetadata, and every other file as it is.
type originFS struct {
	filesys.FileSystem
	root string
}

func (f originFS) ReadFile(path string) ([]byte, error) {
	b, err := f.FileSystem.ReadFile(path)
	if err != nil || filepath.Dir(path) != f.root || !slices.Contains(konfig.RecognizedKustomizationFileNames(), filepath.Base(path)) {
		return b, err
	}
	k, err := kyaml.Parse(string(b))
	if err != nil {
		return b, nil // kustomize reports it
	}
	meta := k.Field("buildMetadata")
	if meta == nil {
		err = k.PipeE(kyaml.SetField("buildMetadata", kyaml.NewListRNode(types.OriginAnnotations)))
	} else if !slices.Contains(kyamlStrings(meta.Value), types.OriginAnnotations) {
		err = meta.Value.PipeE(kyaml.Append(kyaml.NewScalarRNode(types.OriginAnnotations).YNode()))
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return []byte(k.MustString()), nil
}

func kyamlStrings(n *kyaml.RNode) []string {
	var out []string
	for _, item := range n.Content() {
		out = append(out, item.Value)
	}
	return out
}
