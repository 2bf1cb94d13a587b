package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	return nil
}

// patchedCopy copies the example-service at src to dst and applies the
// patches to the copy in order; the original is never touched.
func patchedCopy(ctx context.Context, src string, patches []string, dst string) error {
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		return fmt.Errorf("copy example-service: %w", err)
	}
	for _, p := range patches {
		out, err := exec.CommandContext(ctx, "patch", "-p1", "-d", dst, "-i", p).CombinedOutput()
		if err != nil {
			return fmt.Errorf("apply %s: %w\n%s", p, err, out)
		}
	}
	return nil
}

func patchNames(patches []string) string {
	names := make([]string, len(patches))
	for i, p := range patches {
		names[i] = filepath.Base(p)
	}
	return strings.Join(names, " + ")
}
