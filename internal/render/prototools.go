package render

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// The generated service's protobuf tools: its protogen driver, in its tools
// module, and the two plugins that module pins with tool directives.
const (
	toolsDir      = "tools"
	protogenPkg   = "protogen"
	pluginGo      = "protoc-gen-go"
	pluginGoGRPC  = "protoc-gen-go-grpc"
	cacheModule   = "zerodrop.local/prototools"
	cacheSubdir   = "zerodrop/prototools"
	pluginGoPkg   = "google.golang.org/protobuf/cmd/protoc-gen-go"
	pluginGRPCPkg = "google.golang.org/grpc/cmd/protoc-gen-go-grpc"
)

// protoTools are built binaries of the service's protobuf tools.
type protoTools struct{ protogen, goPlugin, grpcPlugin string }

// buildLocks serialises builds of one tool set within this process; across
// processes, the atomic rename of the finished directory decides.
var buildLocks sync.Map

// cachedProtoTools returns the service's pinned protobuf tools, built once
// per set of versions and kept in the user's cache directory.
//
// Every service renders the same tools module but for its module path, and
// the go command pays for a new module directory on every start (about
// 0.4 s), which was most of scaffold new. So the tools module is copied with a
// fixed module path, keyed by the hash of its go.mod, go.sum and protogen
// source, built once, and the binaries are run directly from then on. They
// are the very tools the service's `make generate` runs with go tool.
func cachedProtoTools(ctx context.Context, goBin string, files []File) (protoTools, error) {
	src, key, err := toolsSource(files)
	if err != nil {
		return protoTools{}, err
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, filepath.FromSlash(cacheSubdir), key)
	tools := protoTools{
		protogen:   filepath.Join(dir, "bin", protogenPkg),
		goPlugin:   filepath.Join(dir, "bin", pluginGo),
		grpcPlugin: filepath.Join(dir, "bin", pluginGoGRPC),
	}
	mu, _ := buildLocks.LoadOrStore(key, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	if tools.built() {
		return tools, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), dirMode); err != nil {
		return protoTools{}, fmt.Errorf("create the protobuf tools cache: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), key+".build-")
	if err != nil {
		return protoTools{}, fmt.Errorf("create the protobuf tools cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	for name, content := range src {
		p := filepath.Join(tmp, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), dirMode); err != nil {
			return protoTools{}, err
		}
		if err := os.WriteFile(p, content, fileMode); err != nil {
			return protoTools{}, err
		}
	}
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	if _, err := command(ctx, tmp, env, goBin, "build", "-trimpath", "-o", "bin/",
		"./"+protogenPkg, pluginGoPkg, pluginGRPCPkg); err != nil {
		return protoTools{}, fmt.Errorf("build the service's pinned protobuf tools (go build in a copy of tools/): %w", err)
	}
	// Another scaffold may have finished the same build first; its result is
	// the same, so either directory will do.
	if err := os.Rename(tmp, dir); err != nil && !tools.built() {
		return protoTools{}, fmt.Errorf("store the protobuf tools in %s: %w", dir, err)
	}
	return tools, nil
}

func (t protoTools) built() bool {
	for _, p := range []string{t.protogen, t.goPlugin, t.grpcPlugin} {
		if fi, err := os.Stat(p); err != nil || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// toolsSource is the rendered tools module with a fixed module path, by
// slash path, and the hash that keys it.
func toolsSource(files []File) (map[string][]byte, string, error) {
	src := map[string][]byte{}
	var module string
	for _, f := range files {
		rel, ok := strings.CutPrefix(f.Path, toolsDir+"/")
		if !ok {
			continue
		}
		src[rel] = f.Content
		if rel == "go.mod" {
			for _, line := range strings.Split(string(f.Content), "\n") {
				if m, ok := strings.CutPrefix(line, "module "); ok {
					module = strings.TrimSpace(m)
				}
			}
		}
	}
	if module == "" || src["go.sum"] == nil || src[protogenPkg+"/main.go"] == nil {
		return nil, "", errors.New("the templates render no complete tools module (tools/go.mod, go.sum, protogen/main.go)")
	}
	h := sha256.New()
	for _, name := range []string{"go.mod", "go.sum", protogenPkg + "/main.go"} {
		src[name] = bytes.ReplaceAll(src[name], []byte(module), []byte(cacheModule))
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(src[name]))
		h.Write(src[name])
	}
	for name := range src {
		if name != "go.mod" && name != "go.sum" && name != protogenPkg+"/main.go" {
			return nil, "", fmt.Errorf("tools/%s is not part of the cached tools module: add it to toolsSource", name)
		}
	}
	return src, hex.EncodeToString(h.Sum(nil))[:20], nil
}

// generateProto runs the generated service's pinned protobuf tooling on the
// staged tree: the real protoc-gen-go and protoc-gen-go-grpc plugins, fed by
// protogen's in-process compiler, with no protoc and no network beyond
// modules. The result is exactly what the service's `make generate` writes.
func generateProto(ctx context.Context, root string, files []File) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return errors.New("the go command is not on PATH: scaffold builds the generated service's pinned protobuf generators with it; install Go 1.26 or later")
	}
	tools, err := cachedProtoTools(ctx, goBin, files)
	if err != nil {
		return err
	}
	dir := filepath.Join(root, toolsDir)
	if _, err := command(ctx, dir, os.Environ(), tools.protogen, "-root", "../api",
		"-"+pluginGo, tools.goPlugin, "-"+pluginGoGRPC, tools.grpcPlugin); err != nil {
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
