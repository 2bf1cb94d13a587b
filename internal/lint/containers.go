package lint

import (
	"slices"
	"strings"
)

// movingTags are tags that name a branch or a channel rather than a
// release: the image behind them changes without the manifest changing.
func movingTags() []string {
	return []string{"latest", "main", "master", "develop", "dev", "nightly", "edge", "stable"}
}

func containerRules() []Rule {
	return []Rule{
		{ID: "image-tag", Severity: Warning, check: checkImageTag,
			Summary: "every image is pinned to a release tag or a digest, not latest, a branch, or no tag"},
		{ID: "env-duplicate", Severity: Warning, check: checkEnvDuplicate,
			Summary: "no container sets the same environment variable twice"},
	}
}

// imageTag splits an image reference into its tag and whether it carries a
// digest: registry.io:5000/team/app:1.2@sha256:... has tag 1.2 and a digest.
func imageTag(image string) (tag string, digest bool) {
	name, _, digest := strings.Cut(image, "@")
	last := name[strings.LastIndex(name, "/")+1:]
	if i := strings.LastIndex(last, ":"); i >= 0 {
		tag = last[i+1:]
	}
	return tag, digest
}

// checkImageTag: a moving tag makes a rollout's pods run whatever the
// registry held when each was pulled, so pods of one revision differ, a
// rescheduled pod changes code mid-rollout, and a rollback rolls nothing
// back.
func checkImageTag(ix *index, e *emitter) {
	for _, w := range ix.workloads {
		for _, ac := range w.allContainers() {
			tag, digest := imageTag(ac.c.Image)
			if digest || (tag != "" && !slices.Contains(movingTags(), tag)) || buildReference(ac.c.Image) {
				continue
			}
			what := "has no tag, so it runs latest"
			if tag != "" {
				what = "uses the moving tag " + tag
			}
			e.addf(w.obj, ac.field+".image", "pin a release tag (1.4.2) or a digest (@sha256:...), in kustomize with images: newTag or digest",
				"image %s of container %s %s: pods of one revision can run different code, a rescheduled pod changes code mid-rollout, and a rollback rolls nothing back", ac.c.Image, ac.c.Name, what)
		}
	}
}

// buildReference reports whether image names source for a build tool to
// replace with a pinned digest before anything is applied (ko resolve turns
// ko://example.com/cmd/app into registry/app@sha256:...), not an image.
func buildReference(image string) bool {
	return strings.HasPrefix(image, "ko://")
}

// checkEnvDuplicate: the kubelet takes the last of two entries with one
// name, but kubectl apply, kustomize patches and server-side apply merge env
// by name, so which value survives depends on how the manifest is applied.
func checkEnvDuplicate(ix *index, e *emitter) {
	for _, w := range ix.workloads {
		for _, ac := range w.allContainers() {
			seen := map[string]bool{}
			for _, ev := range ac.c.Env {
				if seen[ev.Name] {
					e.addf(w.obj, ac.field+".env["+ev.Name+"]", "keep one entry per name",
						"container %s sets %s twice: the kubelet uses the last, but merges by name (kubectl apply, kustomize patches) may keep either, so what runs is not what the manifest reads as", ac.c.Name, ev.Name)
				}
				seen[ev.Name] = true
			}
		}
	}
}
