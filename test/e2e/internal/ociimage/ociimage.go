// Package ociimage writes single-binary scratch images as docker-format
// tarballs that `ctr images import` accepts. The e2e cluster has no Docker
// engine and no registry, so images are assembled in Go from a static binary:
// an empty image, one layer holding the binary, and a config that names the
// entrypoint and a non-root user.
package ociimage

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Spec describes one image.
type Spec struct {
	Ref        string // e.g. zerodrop.local/example-service:e2e-a
	Binary     string // path of a static binary on this machine
	Entrypoint string // absolute path of the binary inside the image
	User       string // numeric uid:gid; empty means root
	// Created is stored in the config; a fixed time makes identical inputs
	// produce identical image digests.
	Created time.Time
}

// Write builds the image and writes it as a tarball to dst.
func Write(dst string, s Spec) error {
	tag, err := name.NewTag(s.Ref)
	if err != nil {
		return fmt.Errorf("image ref %q: %w", s.Ref, err)
	}
	bin, err := os.ReadFile(s.Binary)
	if err != nil {
		return fmt.Errorf("read binary: %w", err)
	}
	layerTar, err := singleFileTar(s.Entrypoint, bin, s.Created)
	if err != nil {
		return err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	})
	if err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return fmt.Errorf("append layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = "amd64"
	cf.Created = v1.Time{Time: s.Created}
	cf.Config.Entrypoint = []string{s.Entrypoint}
	cf.Config.User = s.User
	cf.Config.Env = []string{"PATH=/"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return fmt.Errorf("set config: %w", err)
	}
	if err := tarball.WriteToFile(dst, tag, img); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return nil
}

// singleFileTar returns a tar stream with the parent directories of p and p
// itself as an executable file.
func singleFileTar(p string, content []byte, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var dirs []string
	for d := path.Dir(p); d != "/" && d != "."; d = path.Dir(d) {
		dirs = append([]string{d}, dirs...)
	}
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d[1:] + "/", Mode: 0o755, ModTime: mtime}); err != nil {
			return nil, fmt.Errorf("tar dir: %w", err)
		}
	}
	// The Deployment mounts an emptyDir on /tmp under a read-only root
	// filesystem; shipping the mount point spares runc creating it.
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "tmp/", Mode: 0o1777, ModTime: mtime}); err != nil {
		return nil, fmt.Errorf("tar tmp: %w", err)
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: p[1:], Mode: 0o755, Size: int64(len(content)), ModTime: mtime}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, fmt.Errorf("tar header: %w", err)
	}
	if _, err := tw.Write(content); err != nil {
		return nil, fmt.Errorf("tar write: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("tar close: %w", err)
	}
	return buf.Bytes(), nil
}
