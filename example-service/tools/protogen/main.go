// Command protogen regenerates the service's protobuf and gRPC Go code without
// protoc or buf. It compiles every .proto under the API root in process with
// protocompile and feeds the result to the real protoc-gen-go and
// protoc-gen-go-grpc plugins, whose versions this module pins with tool
// directives.
//
// Usage, from the tools directory (make generate does this):
//
//	go tool protogen [-root ../api] [-protoc-gen-go PATH] [-protoc-gen-go-grpc PATH]
//
// By default each plugin runs as `go tool NAME`. A caller that has already
// resolved the pinned binaries (scaffold does, with go tool -n) passes their
// paths instead, which saves starting the go command once per plugin.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"
)

// plugins are the code generators, each a tool directive of this module.
var plugins = []string{"protoc-gen-go", "protoc-gen-go-grpc"}

func main() {
	root := flag.String("root", "../api", "directory that holds the .proto files; import paths are relative to it, and generated files are written next to their sources")
	paths := map[string]*string{}
	for _, p := range plugins {
		paths[p] = flag.String(p, "", "path of the pinned "+p+" binary (default: go tool "+p+")")
	}
	flag.Parse()
	commands := map[string][]string{}
	for p, path := range paths {
		commands[p] = []string{"go", "tool", p}
		if *path != "" {
			commands[p] = []string{*path}
		}
	}
	if err := run(context.Background(), *root, commands); err != nil {
		fmt.Fprintln(os.Stderr, "protogen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, root string, commands map[string][]string) error {
	sources, err := findProtos(root)
	if err != nil {
		return err
	}
	compiler := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: []string{root}}),
		// Standard source info keeps comments, so they reach the generated code.
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	compiled, err := compiler.Compile(ctx, sources...)
	if err != nil {
		return fmt.Errorf("compile: %w", err)
	}
	req := &pluginpb.CodeGeneratorRequest{
		FileToGenerate: sources,
		Parameter:      proto.String("paths=source_relative"),
	}
	seen := map[string]bool{}
	for _, f := range compiled {
		req.ProtoFile = appendWithDeps(req.ProtoFile, f, seen)
	}
	// The plugins are independent; running them together halves the wait on
	// the go command that starts each one.
	errs := make([]error, len(plugins))
	var wg sync.WaitGroup
	for i, plugin := range plugins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = runPlugin(ctx, plugin, commands[plugin], req, root)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// findProtos lists the .proto files under root, relative to it and sorted, so
// that output does not depend on directory order.
func findProtos(root string) ([]string, error) {
	var sources []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".proto" {
			return err
		}
		rel, err := filepath.Rel(root, p)
		sources = append(sources, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find .proto files: %w", err)
	}
	if len(sources) == 0 {
		return nil, fmt.Errorf("no .proto files under %s", root)
	}
	sort.Strings(sources)
	return sources, nil
}

// appendWithDeps adds f after its imports: plugins need every file that a file
// to generate depends on, in topological order.
func appendWithDeps(out []*descriptorpb.FileDescriptorProto, f protoreflect.FileDescriptor, seen map[string]bool) []*descriptorpb.FileDescriptorProto {
	if seen[f.Path()] {
		return out
	}
	seen[f.Path()] = true
	imports := f.Imports()
	for i := 0; i < imports.Len(); i++ {
		out = appendWithDeps(out, imports.Get(i).FileDescriptor, seen)
	}
	return append(out, protodesc.ToFileDescriptorProto(f))
}

func runPlugin(ctx context.Context, plugin string, command []string, req *pluginpb.CodeGeneratorRequest, root string) error {
	in, err := proto.Marshal(req)
	if err != nil {
		return fmt.Errorf("%s: encode request: %w", plugin, err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, command[0], command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(in), &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", plugin, err, strings.TrimSpace(stderr.String()))
	}
	var resp pluginpb.CodeGeneratorResponse
	if err := proto.Unmarshal(stdout.Bytes(), &resp); err != nil {
		return fmt.Errorf("%s: decode response: %w", plugin, err)
	}
	if resp.Error != nil {
		return fmt.Errorf("%s: %s", plugin, resp.GetError())
	}
	for _, f := range resp.File {
		if f.GetInsertionPoint() != "" {
			return errors.New(plugin + ": insertion points are not supported")
		}
		p := filepath.Join(root, filepath.FromSlash(f.GetName()))
		if err := os.WriteFile(p, []byte(f.GetContent()), 0o644); err != nil {
			return fmt.Errorf("%s: %w", plugin, err)
		}
	}
	return nil
}
