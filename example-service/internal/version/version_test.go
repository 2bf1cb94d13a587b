package version

import "testing"

// TestRevisionFromTheLinker checks that a revision given with -ldflags -X
// (as the Dockerfile's build passes it, having no .git) is reported.
func TestRevisionFromTheLinker(t *testing.T) {
	defer func(old string) { revision = old }(revision)
	revision = "0123456789abcdef"
	if got := Read("v1.2.3"); got.Revision != "0123456789abcdef" || got.Version != "v1.2.3" {
		t.Errorf("Read = %+v, want the linker's revision and the deployed version", got)
	}
}
