package lint

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// realWorld lists, for each manifest of testdata/realworld (written after
// the patterns the trial on public projects met: one Deployment per version,
// a replicated StatefulSet, a node agent, batch jobs, a single-instance app
// on a ReadWriteOnce volume, an Argo Rollout), every finding it must draw,
// as rule and object. Each is a true positive, for the reason given in
// testdata/realworld/README.md; any other finding is wrong or noise, and
// fails the test. So on this corpus the linter makes no wrong finding and
// no noise, and every workload kind is checked.
func realWorld() map[string][]string {
	return map[string][]string{
		"argo-rollout":   {"drain-missing Rollout/checkout", "hpa-duplicate HorizontalPodAutoscaler/checkout-rps"},
		"cronjob-backup": {"env-duplicate CronJob/backup", "image-tag CronJob/backup"},
		"helm-rendered": {
			"drain-missing Deployment/web-app", "memory-limit Deployment/web-app", "probes-identical Deployment/web-app",
			"pss-restricted Deployment/web-app", "replicas-min Deployment/web-app", "service-account-token Deployment/web-app",
		},
		"node-agent": {"hostport-surge DaemonSet/node-metrics", "pss-restricted DaemonSet/node-metrics"},
		"per-version": {
			"drain-missing Deployment/ratings-v1", "liveness-probe-missing Deployment/ratings-v1", "pss-restricted Deployment/ratings-v1",
			"readiness-probe-missing Deployment/ratings-v1", "service-account-token Deployment/ratings-v1",
			"drain-missing Deployment/ratings-v2", "liveness-probe-missing Deployment/ratings-v2", "pss-restricted Deployment/ratings-v2",
			"readiness-silence-detection Deployment/ratings-v2", "service-account-token Deployment/ratings-v2",
		},
		"single-instance-app": {"drain-missing Deployment/dash", "probes-identical Deployment/dash", "replicas-min Deployment/dash", "rollout-strategy Deployment/dash"},
		"statefulset-db":      {"readiness-silence-detection StatefulSet/pg"},
	}
}

func TestRealWorld(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "realworld", "*.yaml"))
	if err != nil || len(files) != len(realWorld()) {
		t.Fatalf("%d manifests in testdata/realworld, want %d (%v)", len(files), len(realWorld()), err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			r := lintFileGolden(t, file)
			var got []string
			for _, f := range r.Findings {
				got = append(got, f.Rule+" "+f.Kind+"/"+f.Name)
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(realWorld()[name]))
			if !slices.Equal(got, want) {
				t.Errorf("findings %q\nwant       %q", got, want)
			}
			// Every workload is checked; the one thing skipped is a Helm test
			// hook, a bare Pod, which nothing rolls.
			var skipped []string
			for _, k := range r.Skipped {
				skipped = append(skipped, k.Kind)
			}
			if wantSkipped := map[string][]string{"helm-rendered": {"Pod"}}[name]; len(r.Checked) == 0 || !slices.Equal(skipped, wantSkipped) {
				t.Errorf("checked %+v, skipped %+v; want skipped %v", r.Checked, r.Skipped, wantSkipped)
			}
		})
	}
}
