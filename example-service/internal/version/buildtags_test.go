package version

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestBuildTags fails when the image and the Makefile build with different
// tags, or when the tags stop doing what they are there for. A tag that only
// the Makefile sets makes the binary you test locally differ from the one
// you ship. grpcnotrace is there to leave grpc-go's request tracer,
// golang.org/x/net/trace, out of the binary; should a grpc-go release drop
// the tag, the tracer and its html/template would come back unnoticed, and
// with them megabytes of binary and idle memory in every pod.
func TestBuildTags(t *testing.T) {
	root := filepath.Join("..", "..")
	defaults := map[string]*regexp.Regexp{
		"Dockerfile": regexp.MustCompile(`(?m)^ARG GO_TAGS=(.*)$`),
		"Makefile":   regexp.MustCompile(`(?m)^GO_TAGS \?= (.*)$`),
	}
	found := map[string]string{}
	for file, re := range defaults {
		data, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			t.Fatal(err)
		}
		m := re.FindSubmatch(data)
		if m == nil {
			t.Fatalf("%s sets no default build tags (%v)", file, re)
		}
		found[file] = strings.TrimSpace(string(m[1]))
	}
	if found["Dockerfile"] != found["Makefile"] {
		t.Fatalf("the Dockerfile builds with tags %q, the Makefile with %q: change them together", found["Dockerfile"], found["Makefile"])
	}
	tags := found["Makefile"]
	if !slices.Contains(strings.Split(tags, ","), "grpcnotrace") {
		return
	}
	cmd := exec.Command("go", "list", "-deps", "-tags", tags, "./cmd/...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps -tags %s: %v", tags, err)
	}
	if slices.Contains(strings.Fields(string(out)), "golang.org/x/net/trace") {
		t.Errorf("built with -tags %s, the service still links golang.org/x/net/trace (go mod why golang.org/x/net/trace names an importer): if it is grpc-go, this release no longer honours grpcnotrace, so find what replaced the tag or drop it", tags)
	}
}
