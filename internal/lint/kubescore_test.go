package lint

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// kubeScoreIgnored are the kube-score checks turned off, each with its
// reason; kube-score-ignored.txt, beside this file, says the same for
// readers who do not read Go.
func kubeScoreIgnored() map[string]string {
	return map[string]string{
		"container-image-pull-policy": "the overlays pin immutable tags; IfNotPresent keeps rollouts independent of the registry, Always would stall them in a registry outage",
	}
}

// kubeScoreOptional are optional kube-score checks that the manifests meet
// and so are turned on.
func kubeScoreOptional() []string {
	return []string{
		"container-seccomp-profile", "container-memory-requests-equal-limits",
		"container-ephemeral-storage-request-equals-limit", "container-ports-check",
	}
}

const exampleKustomize = "../../example-service/deploy/kustomize"

type kubeScoreObject struct {
	ObjectName string `json:"object_name"`
	Checks     []struct {
		Check struct {
			ID string `json:"id"`
		} `json:"check"`
		Grade    int  `json:"grade"`
		Skipped  bool `json:"skipped"`
		Comments []struct {
			Path    string `json:"path"`
			Summary string `json:"summary"`
		} `json:"comments"`
	} `json:"checks"`
}

// kubeScoreCriticals runs the pinned kube-score on manifests and returns
// "check-id object: summary" for every CRITICAL.
func kubeScoreCriticals(t *testing.T, manifests []byte) []string {
	t.Helper()
	args := []string{"tool", "kube-score", "score", "-o", "json", "--kubernetes-version", "v1.33"}
	for id := range kubeScoreIgnored() {
		args = append(args, "--ignore-test", id)
	}
	for _, id := range kubeScoreOptional() {
		args = append(args, "--enable-optional-test", id)
	}
	cmd := exec.CommandContext(context.Background(), "go", append(args, "-")...)
	cmd.Dir = "../../tools" // kube-score's own module, so its dependencies stay out of ours
	cmd.Stdin = bytes.NewReader(manifests)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output() // exits 1 when it finds a CRITICAL: the report decides
	var objects []kubeScoreObject
	if jerr := json.Unmarshal(out, &objects); jerr != nil {
		t.Fatalf("kube-score: %v, %v\n%s", err, jerr, stderr.String())
	}
	var criticals []string
	for _, o := range objects {
		for _, c := range o.Checks {
			if c.Skipped || c.Grade != 1 {
				continue
			}
			var what []string
			for _, cm := range c.Comments {
				what = append(what, strings.TrimSpace(cm.Path+" "+cm.Summary))
			}
			criticals = append(criticals, c.Check.ID+" "+o.ObjectName+": "+strings.Join(what, "; "))
		}
	}
	return criticals
}

// TestKubeScore requires no CRITICAL from kube-score on example-service's
// prod overlay.
func TestKubeScore(t *testing.T) {
	if testing.Short() {
		t.Skip("builds kube-score; not in -short")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go is not on PATH")
	}
	checkIgnoreFile(t)

	prod, err := Render(filepath.Join(exampleKustomize, "overlays", "prod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range kubeScoreCriticals(t, prod) {
		t.Errorf("CRITICAL: %s", c)
	}
}

// checkIgnoreFile keeps kube-score-ignored.txt and the list above in step.
func checkIgnoreFile(t *testing.T) {
	t.Helper()
	f, err := os.Open("kube-score-ignored.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var inFile []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, reason, _ := strings.Cut(line, " ")
		if strings.TrimSpace(reason) == "" {
			t.Errorf("kube-score-ignored.txt: %s has no reason", id)
		}
		inFile = append(inFile, id)
	}
	var inTest []string
	for id := range kubeScoreIgnored() {
		inTest = append(inTest, id)
	}
	slices.Sort(inFile)
	slices.Sort(inTest)
	if !slices.Equal(inFile, inTest) {
		t.Errorf("kube-score-ignored.txt lists %v, the test ignores %v", inFile, inTest)
	}
}
