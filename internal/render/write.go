package render

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// GeneratedFiles are the files that the real protobuf generators produce from
// the rendered .proto. Render does not produce them; Write runs the service's
// own `go tool protogen`, exactly as its `make generate` does.
func GeneratedFiles(d Data) []string {
	dir := "api/" + d.ProtoDir() + "/v1/" + d.ProtoDir()
	return []string{dir + ".pb.go", dir + "_grpc.pb.go"}
}

// CheckTarget refuses a target that is a file or a non-empty directory. A
// missing target, or an empty directory, is fine.
func CheckTarget(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		parent := filepath.Dir(dir)
		if pfi, err := os.Stat(parent); err != nil || !pfi.IsDir() {
			return inputErrorf("parent directory %s does not exist: create it first, or choose another -o", parent)
		}
		return nil
	case err != nil:
		return fmt.Errorf("check target %s: %w", dir, err)
	case !fi.IsDir():
		return inputErrorf("target %s is a file, not a directory: choose another -o", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("check target %s: %w", dir, err)
	}
	if len(entries) > 0 {
		return inputErrorf("target directory %s exists and is not empty: scaffold never overwrites; remove it or choose another -o", dir)
	}
	return nil
}

// Write puts files into dir as one step. It writes them into a staging
// directory next to dir, generates the protobuf code there, and only then
// renames the staging directory to dir, so a failure at any point leaves
// nothing behind and an existing tree is never touched.
func Write(ctx context.Context, d Data, files []File, dir string) (err error) {
	if err := CheckTarget(dir); err != nil {
		return err
	}
	stage, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".scaffold-")
	if err != nil {
		return fmt.Errorf("create staging directory: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(stage)
		}
	}()
	for _, f := range files {
		p := filepath.Join(stage, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), dirMode); err != nil {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
		if err := os.WriteFile(p, f.Content, f.Mode); err != nil {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
	}
	if err := os.Chmod(stage, dirMode); err != nil {
		return fmt.Errorf("set mode of %s: %w", stage, err)
	}
	if err := generateProto(ctx, stage); err != nil {
		return err
	}
	for _, g := range GeneratedFiles(d) {
		if _, err := os.Stat(filepath.Join(stage, filepath.FromSlash(g))); err != nil {
			return fmt.Errorf("protobuf generation did not produce %s: %w", g, err)
		}
	}
	// An empty target directory, which CheckTarget allows, makes way; Remove
	// fails rather than delete anything that appeared in it meanwhile.
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("replace empty directory %s: %w", dir, err)
	}
	if err := os.Rename(stage, dir); err != nil {
		return fmt.Errorf("move generated tree into %s: %w", dir, err)
	}
	return nil
}

// protoTools are the generated service's pinned code generators: its
// protogen driver and the plugins it feeds.
var protoTools = []string{"protogen", "protoc-gen-go", "protoc-gen-go-grpc"}

// generateProto runs the generated service's pinned protobuf tooling in its
// tools module: the real protoc-gen-go and protoc-gen-go-grpc plugins, fed by
// an in-process compiler, with no protoc and no network beyond modules. It
// produces exactly what the service's `make generate` does.
//
// Starting the go command is most of the cost, so the three tool binaries are
// resolved at once with `go tool -n` and then run directly, instead of
// starting the go command again for each plugin.
func generateProto(ctx context.Context, root string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return errors.New("the go command is not on PATH: scaffold runs the generated service's pinned protobuf generators with it; install Go 1.26 or later")
	}
	dir := filepath.Join(root, "tools")
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	paths := make([]string, len(protoTools))
	errs := make([]error, len(protoTools))
	var wg sync.WaitGroup
	for i, tool := range protoTools {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := command(ctx, dir, env, goBin, "tool", "-n", tool)
			if err != nil {
				errs[i] = fmt.Errorf("build the service's pinned %s (go tool -n %s in tools/): %w", tool, tool, err)
			}
			paths[i] = strings.TrimSpace(out)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if _, err := command(ctx, dir, env, paths[0], "-"+protoTools[1], paths[1], "-"+protoTools[2], paths[2]); err != nil {
		return fmt.Errorf("generate protobuf code (protogen in tools/): %w", err)
	}
	return nil
}

// command runs name in dir and returns its standard output; a failure carries
// everything it printed.
func command(ctx context.Context, dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%w\n%s", err, strings.TrimSpace(stdout.String()+stderr.String()))
	}
	return stdout.String(), nil
}
