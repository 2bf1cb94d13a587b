package render

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// GenerateProto runs the service's pinned protobuf generators, exactly as Write
// and the service's make generate do, on files in a scratch directory, and
// returns what they produced. files must hold the tools module (tools/...) and
// every .proto of the service (api/...). Generated code is a function of the
// .proto, so scaffold update regenerates it this way rather than merge it.
func GenerateProto(ctx context.Context, files []File) ([]File, error) {
	tmp, err := os.MkdirTemp("", "scaffold-protogen-")
	if err != nil {
		return nil, fmt.Errorf("create scratch directory for protobuf generation: %w", err)
	}
	defer os.RemoveAll(tmp)
	given := map[string]bool{}
	for _, f := range files {
		given[f.Path] = true
		p := filepath.Join(tmp, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), dirMode); err != nil {
			return nil, fmt.Errorf("stage %s: %w", f.Path, err)
		}
		if err := os.WriteFile(p, f.Content, fileMode); err != nil {
			return nil, fmt.Errorf("stage %s: %w", f.Path, err)
		}
	}
	if err := os.MkdirAll(filepath.Join(tmp, "api"), dirMode); err != nil {
		return nil, fmt.Errorf("stage api/: %w", err)
	}
	if err := generateProto(ctx, tmp, files); err != nil {
		return nil, err
	}
	var out []File
	err = filepath.WalkDir(filepath.Join(tmp, "api"), func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, err := filepath.Rel(tmp, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if given[rel] {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out = append(out, File{Path: rel, Mode: fileMode, Content: b})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read generated protobuf code: %w", err)
	}
	return out, nil
}
