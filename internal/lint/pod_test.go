package lint

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestPreStopOf(t *testing.T) {
	exec := func(cmd ...string) *corev1.Container {
		return &corev1.Container{Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: cmd}}}}
	}
	tests := []struct {
		name      string
		c         *corev1.Container
		sleep     time.Duration
		native    bool
		execSleep bool
	}{
		{"none", &corev1.Container{}, 0, false, false},
		{"native", &corev1.Container{Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 7}}}}, 7 * time.Second, true, false},
		{"exec argv", exec("sleep", "5"), 5 * time.Second, false, true},
		{"shell with suffix", exec("/bin/sh", "-c", "echo bye > /stop.log && sleep 90s"), 90 * time.Second, false, true},
		{"minutes", exec("sh", "-c", "sleep 1m"), time.Minute, false, true},
		{"fraction", exec("sh", "-c", "sleep 2.5;"), 2500 * time.Millisecond, false, true},
		{"loop has no fixed length", exec("sh", "-c", "while killall server; do sleep 1; done"), 0, false, true},
		{"not a sleep", exec("nginx", "-s", "quit"), 0, false, false},
		{"sleepy is not sleep", exec("sleepy", "5"), 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := preStopOf(tt.c)
			if h.sleep != tt.sleep || h.native != tt.native || h.execSleep != tt.execSleep {
				t.Errorf("got %+v, want sleep %v native %v execSleep %v", h, tt.sleep, tt.native, tt.execSleep)
			}
		})
	}
}

func TestParseSeconds(t *testing.T) {
	for in, want := range map[string]time.Duration{"10s": 10 * time.Second, "1m30s": 90 * time.Second, "15": 15 * time.Second, " 2.5 ": 2500 * time.Millisecond, "500ms": 500 * time.Millisecond} {
		if got, err := parseSeconds(in); err != nil || got != want {
			t.Errorf("parseSeconds(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parseSeconds("ten"); err == nil {
		t.Error("parseSeconds(ten) did not fail")
	}
}

// TestEnvPrecedence follows the kubelet: env over envFrom, later envFrom over
// earlier, and a flag in args over both.
func TestEnvPrecedence(t *testing.T) {
	in := loadString(t, `apiVersion: v1
kind: ConfigMap
metadata: {name: first}
data: {SHUTDOWN_DELAY: 1s, SHUTDOWN_TIMEOUT: 1s, APP_CLEANUP_TIMEOUT: 4s}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: second}
data: {SHUTDOWN_DELAY: 2s, SHUTDOWN_TIMEOUT: 2s}
`)
	ix := newIndex(in)
	o := &Object{}
	c := &corev1.Container{
		EnvFrom: []corev1.EnvFromSource{
			{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "first"}}},
			{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "second"}}},
			{Prefix: "APP_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "first"}}},
		},
		Env:  []corev1.EnvVar{{Name: "SHUTDOWN_TIMEOUT", Value: "3s"}},
		Args: []string{"--shutdown-delay", "9s"},
	}
	for name, want := range map[string]string{"SHUTDOWN_DELAY": "2s", "SHUTDOWN_TIMEOUT": "3s", "APP_CLEANUP_TIMEOUT": "4s"} {
		if v := ix.env(o, c, name); v.value != want || !v.set {
			t.Errorf("%s = %+v, want %s", name, v, want)
		}
	}
	if v := flagValue(c, "shutdown-delay"); v.value != "9s" {
		t.Errorf("--shutdown-delay = %+v, want 9s", v)
	}
	c.EnvFrom = append(c.EnvFrom, corev1.EnvFromSource{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "elsewhere"}}})
	if v := ix.env(o, c, "SHUTDOWN_DELAY"); v.unresolved == "" {
		t.Errorf("a later envFrom outside the input may override: got %+v", v)
	}
}
