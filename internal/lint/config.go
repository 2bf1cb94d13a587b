package lint

import (
	"maps"
	"regexp"
	"slices"
	"strings"
)

// hashSuffixRE matches the suffix kustomize's generators append: a dash and
// ten characters of a sha256 in kustomize's own alphabet (hex with 0, 1, 3,
// a and e swapped for g, h, k, m and t, so it never reads as a word).
var hashSuffixRE = regexp.MustCompile(`-[2456789bcdfghkmt]{10}$`)

// reloaderAnnotations are the workload annotations of Stakater Reloader,
// which rolls a workload when a ConfigMap it reads changes.
func reloaderAnnotations() []string {
	return []string{"reloader.stakater.com/auto", "reloader.stakater.com/search", "configmap.reloader.stakater.com/reload"}
}

// rolledOnChange reports whether something other than a hashed name rolls
// the pods when their configuration changes: a checksum/* annotation on the
// pod template (the Helm idiom: the hash of the rendered ConfigMap changes
// the template), or Stakater Reloader's annotations on the workload.
func rolledOnChange(w *workload) bool {
	for k := range w.template.Annotations {
		if strings.HasPrefix(k, "checksum/") {
			return true
		}
	}
	for _, k := range reloaderAnnotations() {
		if _, ok := w.meta.Annotations[k]; ok {
			return true
		}
	}
	return false
}

// reloaderSidecar names a container that watches mounted configuration and
// makes the app reload it (configmap-reload, prometheus-config-reloader), or
// returns "".
func reloaderSidecar(w *workload) string {
	for _, c := range w.spec().Containers {
		if strings.Contains(c.Image, "configmap-reload") || strings.Contains(c.Image, "config-reloader") {
			return c.Name
		}
	}
	return ""
}

func configRules() []Rule {
	return []Rule{
		{ID: "configmap-unhashed", Severity: Warning, check: checkConfigMapUnhashed,
			Summary: "in kustomize output, ConfigMaps that pods read carry the generator's hash suffix, so a change rolls the workload"},
	}
}

// configMapRefs lists the ConfigMaps a pod reads, with the field that reads
// each.
func configMapRefs(w *workload) map[string]string {
	spec := w.spec()
	refs := map[string]string{}
	add := func(name, field string) {
		if _, ok := refs[name]; !ok {
			refs[name] = field
		}
	}
	for _, ac := range w.allContainers() {
		for _, ef := range ac.c.EnvFrom {
			if ef.ConfigMapRef != nil {
				add(ef.ConfigMapRef.Name, ac.field+".envFrom")
			}
		}
		for _, ev := range ac.c.Env {
			if ev.ValueFrom != nil && ev.ValueFrom.ConfigMapKeyRef != nil {
				add(ev.ValueFrom.ConfigMapKeyRef.Name, ac.field+".env["+ev.Name+"]")
			}
		}
	}
	for _, v := range spec.Volumes {
		field := w.path("volumes[name=" + v.Name + "]")
		if v.ConfigMap != nil {
			add(v.ConfigMap.Name, field)
		}
		if v.Projected != nil {
			for _, src := range v.Projected.Sources {
				if src.ConfigMap != nil {
					add(src.ConfigMap.Name, field)
				}
			}
		}
	}
	return refs
}

func checkConfigMapUnhashed(ix *index, e *emitter) {
	if !ix.kustomize {
		return // plain YAML: no generator to ask for a hash
	}
	for _, w := range ix.workloads {
		if w.rolled() {
			checkPodConfigMaps(ix, e, w)
		}
	}
}

// checkPodConfigMaps passes by Jobs, CronJobs and bare ReplicaSets: their
// pods read the ConfigMap afresh when they are created, and nothing rolls
// them when it changes.
func checkPodConfigMaps(ix *index, e *emitter, w *workload) {
	if rolledOnChange(w) {
		return
	}
	refs := configMapRefs(w)
	reloader := reloaderSidecar(w)
	for _, name := range slices.Sorted(maps.Keys(refs)) {
		if _, ok := ix.configMap(w.obj, name); !ok || hashSuffixRE.MatchString(name) {
			continue // external, or generated with a hash
		}
		if reloader != "" && strings.Contains(refs[name], ".volumes[") {
			continue // mounted, and the sidecar reloads it (it cannot reload env)
		}
		e.addf(w.obj, refs[name], "produce it with configMapGenerator and leave disableNameSuffixHash off (kustomize then renames every reference), or roll on change another way: a checksum/config annotation on the pod template, or Stakater Reloader",
			"ConfigMap %s has no content hash in its name: changing it does not roll the %s, and pods keep the old values until they happen to restart", name, w.kind())
	}
}
