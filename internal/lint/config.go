package lint

import (
	"fmt"
	"maps"
	"regexp"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// hashSuffixRE matches the suffix kustomize's generators append: a dash and
// ten characters of a sha256 in kustomize's own alphabet (hex with 0, 1, 3,
// a and e swapped for g, h, k, m and t, so it never reads as a word).
var hashSuffixRE = regexp.MustCompile(`-[2456789bcdfghkmt]{10}$`)

func configRules() []Rule {
	return []Rule{
		{ID: "configmap-unhashed", Severity: Warning, check: checkConfigMapUnhashed,
			Summary: "in kustomize output, ConfigMaps that pods read carry the generator's hash suffix, so a change rolls the Deployment"},
	}
}

// configMapRefs lists the ConfigMaps a pod reads, with the field that reads
// each.
func configMapRefs(spec *corev1.PodSpec) map[string]string {
	refs := map[string]string{}
	add := func(name, field string) {
		if _, ok := refs[name]; !ok {
			refs[name] = field
		}
	}
	for _, list := range []struct {
		field string
		cs    []corev1.Container
	}{{"containers", spec.Containers}, {"initContainers", spec.InitContainers}} {
		for _, c := range list.cs {
			base := fmt.Sprintf("%s.%s[name=%s]", podSpecPath, list.field, c.Name)
			for _, ef := range c.EnvFrom {
				if ef.ConfigMapRef != nil {
					add(ef.ConfigMapRef.Name, base+".envFrom")
				}
			}
			for _, ev := range c.Env {
				if ev.ValueFrom != nil && ev.ValueFrom.ConfigMapKeyRef != nil {
					add(ev.ValueFrom.ConfigMapKeyRef.Name, base+".env["+ev.Name+"]")
				}
			}
		}
	}
	for _, v := range spec.Volumes {
		field := podSpecPath + ".volumes[name=" + v.Name + "]"
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
	for _, d := range ix.deployments {
		checkPodConfigMaps(ix, e, d)
	}
}

func checkPodConfigMaps(ix *index, e *emitter, d typed[*appsv1.Deployment]) {
	refs := configMapRefs(&d.v.Spec.Template.Spec)
	for _, name := range slices.Sorted(maps.Keys(refs)) {
		if _, ok := ix.configMap(d.obj, name); !ok || hashSuffixRE.MatchString(name) {
			continue // external, or generated with a hash
		}
		e.addf(d.obj, refs[name], "produce it with configMapGenerator and leave disableNameSuffixHash off; kustomize then renames every reference",
			"ConfigMap %s has no content hash in its name: changing it does not roll the Deployment, and pods keep the old values until they happen to restart", name)
	}
}
