package ociimage

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestWriteRoundTrip reads the tarball back the way an importer would and
// checks what the kubelet relies on: the entrypoint, the non-root user and
// the binary's mode.
func TestWriteRoundTrip(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "app")
	if err := os.WriteFile(bin, []byte("#!binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "app.tar")
	spec := Spec{Ref: "zerodrop.local/app:t", Binary: bin, Entrypoint: "/app", User: "65532:65532", Created: time.Unix(0, 0)}
	if err := Write(dst, spec); err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := cf.Config.Entrypoint; len(got) != 1 || got[0] != "/app" {
		t.Errorf("entrypoint %q", got)
	}
	if cf.Config.User != "65532:65532" || cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("config user %q os %q arch %q", cf.Config.User, cf.OS, cf.Architecture)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d, %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	found := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == "app" {
			found = true
			if h.Mode&0o111 == 0 {
				t.Errorf("app mode %o is not executable", h.Mode)
			}
		}
	}
	if !found {
		t.Error("layer has no app")
	}
	// Identical inputs give the identical image, so that tags a and b of
	// the same build share content in containerd.
	d1, _ := img.Digest()
	dst2 := filepath.Join(dir, "again.tar")
	if err := Write(dst2, spec); err != nil {
		t.Fatal(err)
	}
	img2, err := tarball.ImageFromPath(dst2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d2, _ := img2.Digest(); d1 != d2 {
		t.Errorf("digests differ: %v %v", d1, d2)
	}
}
