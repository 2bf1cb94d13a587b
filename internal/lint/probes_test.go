package lint

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// TestSilenceDetection: readiness must notice a pod that has gone silent,
// whose probes time out instead of failing, within silenceBound (issue
// #30). Unset timings are the API's defaults, every kind of handler is
// timed alike, and the finding states the time, the bound and the fields
// to change.
func TestSilenceDetection(t *testing.T) {
	serving := func(readiness string) string {
		return web("", `      containers:
      - name: web
        image: web:1.0
        ports: [{name: http, containerPort: 8080}, {name: grpc, containerPort: 9090}]
        readinessProbe: `+readiness+"\n", frontedBy("web"))
	}
	tests := []struct {
		name  string
		yaml  string
		fires bool
		says  []string // in the message when it fires
		fix   string   // in the fix when it fires
	}{
		{name: "the API defaults: 10 × 3 + 1",
			yaml: serving("{httpGet: {path: /readyz, port: http}}"), fires: true,
			says: []string{"up to 31s, more than 10s", "periodSeconds 10 (default) × failureThreshold 3 (default) + timeoutSeconds 1 (default)"},
			fix:  "set periodSeconds to 3 (3 × 3 + 1 = 10s)"},
		{name: "the generated service's probe: 2 × 2 + 1",
			yaml: serving("{httpGet: {path: /readyz, port: http}, periodSeconds: 2, timeoutSeconds: 1, failureThreshold: 2}")},
		{name: "exactly at the bound: 3 × 3 + 1",
			yaml: serving("{httpGet: {path: /readyz, port: http}, periodSeconds: 3}")},
		{name: "a second past the bound: 3 × 3 + 2",
			yaml: serving("{httpGet: {path: /readyz, port: http}, periodSeconds: 3, timeoutSeconds: 2}"), fires: true,
			says: []string{"up to 11s, more than 10s", "periodSeconds 3 × failureThreshold 3 (default) + timeoutSeconds 2"},
			fix:  "set periodSeconds to 2 (2 × 3 + 2 = 8s)"},
		{name: "a shorter period keeps the team's threshold: 5 × 2 + 1",
			yaml: serving("{httpGet: {path: /readyz, port: http}, periodSeconds: 5, failureThreshold: 2}"), fires: true,
			says: []string{"up to 11s"}, fix: "set periodSeconds to 4 (4 × 2 + 1 = 9s)"},
		// P·F + T would say 2 × 2 + 5 = 9s; the probes run back to back.
		{name: "a timeout longer than the period: 2 + 2 × 5",
			yaml: serving("{httpGet: {path: /readyz, port: http}, periodSeconds: 2, timeoutSeconds: 5, failureThreshold: 2}"), fires: true,
			says: []string{"up to 12s", "back to back"}, fix: "set periodSeconds: 2, failureThreshold: 3 and timeoutSeconds: 1 (2 × 3 + 1 = 7s), on a readiness endpoint that answers well within a second"},
		{name: "tcpSocket, with the defaults",
			yaml: serving("{tcpSocket: {port: http}}"), fires: true,
			says: []string{"up to 31s", "not a process that froze"}, fix: "an httpGet or grpc probe"},
		{name: "grpc, with the defaults",
			yaml: serving("{grpc: {port: 9090}}"), fires: true, says: []string{"up to 31s"}},
		{name: "exec, with the defaults",
			yaml: serving("{exec: {command: [/bin/ready]}}"), fires: true,
			says: []string{"up to 31s", "exec probe runs inside the container"}, fix: "an httpGet or grpc probe"},
		{name: "exec, within the bound",
			yaml: serving("{exec: {command: [/bin/ready]}, periodSeconds: 2}")},
		{name: "a container no Service leads to",
			yaml: web("", `      containers:
      - name: web
        image: web:1.0
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {httpGet: {path: /readyz, port: http}, periodSeconds: 2, failureThreshold: 2}
      - name: agent
        image: agent:1.0
        readinessProbe: {exec: {command: [/bin/ready]}}
`, frontedBy("web"))},
		{name: "no readiness probe: readiness-probe-missing's",
			yaml: web("", "      containers: [{name: web, image: web:1.0, ports: [{name: http, containerPort: 8080}]}]\n", frontedBy("web"))},
		{name: "one replica: no other pod to send the requests to",
			yaml: strings.Replace(serving("{httpGet: {path: /readyz, port: http}}"), "replicas: 3", "replicas: 1", 1)},
	}
	// A missing probe is left to the rule that says to add one.
	lintFires(t, tests[len(tests)-2].yaml, "readiness-probe-missing", true)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, fired := lintFires(t, tt.yaml, "readiness-silence-detection", tt.fires)
			if !fired {
				return
			}
			if want := "spec.template.spec.containers[name=web].readinessProbe"; f.Field != want {
				t.Errorf("finding at %s, want %s", f.Field, want)
			}
			for _, s := range tt.says {
				if !strings.Contains(f.Message, s) {
					t.Errorf("message %q does not say %q", f.Message, s)
				}
			}
			if !strings.Contains(f.Fix, tt.fix) || !strings.Contains(f.Fix, "periodSeconds × failureThreshold + timeoutSeconds at most 10s") {
				t.Errorf("fix %q: want %q, and the sum to keep within the bound", f.Fix, tt.fix)
			}
		})
	}
}

// TestSilenceDetectionBesideDrainDetection: drain-detection times the same
// probe against the drain delay, which a long drain can stretch; silence
// has no drain to cover it, so a long SHUTDOWN_DELAY does not excuse a
// slow probe.
func TestSilenceDetectionBesideDrainDetection(t *testing.T) {
	yaml := web("", `      containers:
      - name: web
        image: web:1.0
        ports: [{name: http, containerPort: 8080}]
        env: [{name: SHUTDOWN_DELAY, value: 30s}]
        readinessProbe: {httpGet: {path: /readyz, port: http}, periodSeconds: 5}
`, frontedBy("web"))
	// 5 × 3 + 1 = 16s is within a 30s drain, but not within the bound.
	lintFires(t, yaml, "drain-detection", false)
	if f, _ := lintFires(t, yaml, "readiness-silence-detection", true); !strings.Contains(f.Message, "16s") {
		t.Errorf("readiness-silence-detection says %q", f.Message)
	}
}

// TestSilentNoticeMatchesTheKubelet checks the formula against a model of
// the kubelet's probe worker: a probe at every tick of a ticker that keeps
// one missed tick, run one at a time, each failing after timeoutSeconds,
// from a pod gone silent just after the tick at 0 was answered.
func TestSilentNoticeMatchesTheKubelet(t *testing.T) {
	worker := func(period, timeout, failures int32) int32 {
		now, consumed := int32(0), int32(0) // the tick at 0 ran the last good probe
		for range failures {
			next := (consumed/period + 1) * period // the first tick not yet taken
			start := max(now, next)                // a tick missed while probing waits in the channel
			consumed = start / period * period
			now = start + timeout
		}
		return now
	}
	for period := int32(1); period <= 12; period++ {
		for timeout := int32(1); timeout <= 12; timeout++ {
			for failures := int32(1); failures <= 6; failures++ {
				p := &corev1.Probe{PeriodSeconds: period, TimeoutSeconds: timeout, FailureThreshold: failures}
				got, _ := silentNotice(p)
				if want := time.Duration(worker(period, timeout, failures)) * time.Second; got != want {
					t.Errorf("period %d, timeout %d, threshold %d: silentNotice %v, the worker %v", period, timeout, failures, got, want)
				}
			}
		}
	}
}

// TestSilenceFixFits: the suggested timings are within the bound for every
// probe the rule flags, and keep the team's threshold and timeout whenever
// a shorter period alone fits.
func TestSilenceFixFits(t *testing.T) {
	for period := int32(1); period <= 30; period++ {
		for timeout := int32(1); timeout <= 12; timeout++ {
			for failures := int32(1); failures <= 10; failures++ {
				p := &corev1.Probe{PeriodSeconds: period, TimeoutSeconds: timeout, FailureThreshold: failures}
				if d, _ := silentNotice(p); d <= silenceBound {
					continue
				}
				to, fix := silenceFix(p)
				if to.period > period || to.period < to.timeout {
					t.Errorf("%d/%d/%d: fix %q lengthens the period or sets a timeout past it", period, timeout, failures, fix)
				}
				if d, _ := silentNotice(&corev1.Probe{PeriodSeconds: to.period, TimeoutSeconds: to.timeout, FailureThreshold: to.failures}); d > silenceBound {
					t.Errorf("%d/%d/%d: fix %q still takes %v", period, timeout, failures, fix, d)
				}
				bound := int32(silenceBound / time.Second)
				if shorter := (bound - timeout) / failures; shorter >= timeout && (to.timeout != timeout || to.failures != failures) {
					t.Errorf("%d/%d/%d: periodSeconds %d alone would fit, but fix %q changes more", period, timeout, failures, shorter, fix)
				}
			}
		}
	}
}
