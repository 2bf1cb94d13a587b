package version

import (
	"bufio"
	goversion "go/version"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// goFloor is the oldest Go release that this service may be built with.
// Go 1.26.6 fixed CVE-2026-56853: on a port that serves HTTP/2 without TLS
// (h2c, as the HTTP port does), a client that sent the HTTP/2 preface a
// byte at a time held its connection past ReadHeaderTimeout, so a few slow
// clients could hold every connection the server would take. Raise it when
// a Go release fixes something the servers rely on.
const goFloor = "go1.26.6"

// TestToolchainFloor fails when the service is built or tested with a Go
// release below goFloor, or when the places that choose the release
// disagree: go.mod's toolchain line, the Dockerfile's builder image and the
// CI workflow's setup-go. A release bump changes all three together.
func TestToolchainFloor(t *testing.T) {
	if v := runtime.Version(); strings.HasPrefix(v, "go") && goversion.Compare(v, goFloor) < 0 {
		t.Errorf("built with %s, below the floor %s: install a newer Go, or let GOTOOLCHAIN=auto fetch go.mod's toolchain", v, goFloor)
	}
	root := filepath.Join("..", "..")
	sources := []struct {
		file string
		re   *regexp.Regexp
	}{
		{"go.mod", regexp.MustCompile(`^toolchain (go\S+)`)},
		{"Dockerfile", regexp.MustCompile(`^FROM golang:(\S+)`)},
		{filepath.Join(".github", "workflows", "ci.yaml"), regexp.MustCompile(`^\s*go-version: '([^']+)'`)},
	}
	found := map[string][]string{}
	for _, src := range sources {
		f, err := os.Open(filepath.Join(root, src.file))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if m := src.re.FindStringSubmatch(sc.Text()); m != nil {
				found[src.file] = append(found[src.file], "go"+strings.TrimPrefix(m[1], "go"))
			}
		}
		_ = f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		if len(found[src.file]) == 0 {
			t.Errorf("%s names no Go release (%v)", src.file, src.re)
		}
	}
	want := found["go.mod"]
	for file, releases := range found {
		for _, v := range releases {
			if !goversion.IsValid(v) || goversion.Compare(v, goFloor) < 0 {
				t.Errorf("%s uses %s, below the floor %s: pin a patch release at or above it", file, v, goFloor)
			}
			if len(want) > 0 && v != want[0] {
				t.Errorf("%s uses %s, go.mod's toolchain line %s: change them together", file, v, want[0])
			}
		}
	}
}
