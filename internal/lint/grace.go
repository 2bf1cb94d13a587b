package lint

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/zerodrop/zerodrop/internal/shutdown"
)

// The shutdown timeline of a pod: the kubelet runs preStop, then sends
// SIGTERM, then SIGKILL when terminationGracePeriodSeconds (T) runs out,
// counted from the start of preStop. Everything the pod does to drain must
// fit: the preStop sleep, the app's own drain delay D, its graceful-stop
// timeout S, its cleanup F, and a margin M for the process to exit.
const (
	minDrainDelay   = 5 * time.Second  // below this, slow data planes still route to the pod
	defaultGrace    = 30 * time.Second // the API default of terminationGracePeriodSeconds
	defaultPeriod   = 10               // probe periodSeconds default
	defaultFailures = 3                // probe failureThreshold default
	defaultTimeout  = 1                // probe timeoutSeconds default
)

// sleepActionMinor is the release that turned the native preStop sleep
// action on by default (beta; GA in 1.34).
const sleepActionMinor = 30

// appTiming is one of the in-app timings the generated service reads. Any
// service that uses the same variables or flags is checked the same way.
type appTiming struct {
	env  string // the environment variable
	flag string // the command-line flag, which wins over the variable
	role string // what it is in the timeline, for messages
}

func appTimings() (delay, timeout, cleanup appTiming) {
	return appTiming{shutdown.DelaySetting.Env, shutdown.DelaySetting.Flag, "drain delay"},
		appTiming{shutdown.TimeoutSetting.Env, shutdown.TimeoutSetting.Flag, "graceful-stop timeout"},
		appTiming{shutdown.CleanupSetting.Env, shutdown.CleanupSetting.Flag, "cleanup timeout"}
}

// timeline is a container's shutdown, as far as the input tells it.
type timeline struct {
	hook        preStopHook
	grace       time.Duration
	terms       []string      // "SHUTDOWN_DELAY 10s", for the budget message
	delay       time.Duration // D
	stop        time.Duration // S, when stopFrom is set
	stopFrom    string        // the setting S was read from (SHUTDOWN_TIMEOUT, --shutdown-timeout); "" when the input does not set it
	cleanup     time.Duration // F, when cleanupFrom is set
	cleanupFrom string        // the setting F was read from; "" when the input does not set it
	total       time.Duration // preStop + D + S + F + M
	unresolved  []string      // timings that live outside the input
	invalid     []string      // timings that do not parse
}

func (ix *index) timeline(w *workload, c *corev1.Container) timeline {
	t := timeline{hook: preStopOf(c), grace: defaultGrace}
	if g := w.spec().TerminationGracePeriodSeconds; g != nil {
		t.grace = time.Duration(*g) * time.Second
	}
	if t.hook.sleep > 0 {
		t.terms = append(t.terms, "preStop sleep "+seconds(t.hook.sleep))
	}
	t.total = t.hook.sleep
	delay, timeout, cleanup := appTimings()
	for _, at := range []appTiming{delay, timeout, cleanup} {
		v := flagValue(c, at.flag)
		name := "--" + at.flag
		if !v.set && v.unresolved == "" {
			v = ix.env(w.obj, c, at.env)
			name = at.env
		}
		if v.unresolved != "" {
			t.unresolved = append(t.unresolved, v.unresolved)
			continue
		}
		if !v.set {
			continue
		}
		dur, err := parseSeconds(v.value)
		if err != nil {
			t.invalid = append(t.invalid, fmt.Sprintf("%s (%s): %v", name, v.from, err))
			continue
		}
		t.terms = append(t.terms, name+" "+seconds(dur))
		t.total += dur
		switch at {
		case delay:
			t.delay = dur
		case timeout:
			t.stop, t.stopFrom = dur, name
		case cleanup:
			t.cleanup, t.cleanupFrom = dur, name
		}
	}
	t.terms = append(t.terms, "margin "+seconds(shutdown.Margin))
	t.total += shutdown.Margin
	return t
}

// flagValue finds -flag=V, --flag=V, -flag V or --flag V in the container's
// command and args.
func flagValue(c *corev1.Container, flag string) envValue {
	argv := append(append([]string{}, c.Command...), c.Args...)
	for i, a := range argv {
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != flag {
			continue
		}
		if !hasVal {
			if i+1 >= len(argv) {
				continue
			}
			val = argv[i+1]
		}
		return envValue{value: val, from: "args", set: true}
	}
	return envValue{}
}

func graceRules() []Rule {
	return []Rule{
		{ID: "grace-budget", Severity: Error, check: checkGraceBudget,
			Summary: "preStop sleep + SHUTDOWN_DELAY + SHUTDOWN_TIMEOUT + CLEANUP_TIMEOUT + " + seconds(shutdown.Margin) + " margin ≤ terminationGracePeriodSeconds"},
		{ID: "grace-unresolved", Severity: Warning, check: checkGraceUnresolved,
			Summary: "the shutdown timings can be read from the input (their ConfigMap is linted with the workload) and parse"},
		{ID: "drain-missing", Severity: Error, check: checkDrainMissing,
			Summary: "every serving container shows a drain: a preStop hook or an in-app SHUTDOWN_DELAY, so it keeps serving after termination starts"},
		{ID: "drain-short", Severity: Warning, check: checkDrainShort,
			Summary: "the drain delay is at least 5s, the time endpoint removal takes to reach kube-proxy, ingress controllers and DNS"},
		{ID: "drain-double", Severity: Warning, check: checkDrainDouble,
			Summary: "a container drains with a preStop sleep or an in-app delay, not both stacked"},
		{ID: "drain-detection", Severity: Warning, check: checkDrainDetection,
			Summary: "readiness notices the drain (periodSeconds × failureThreshold + timeoutSeconds) within SHUTDOWN_DELAY"},
		{ID: "prestop-exec-sleep", Severity: Warning, check: checkPreStopExecSleep,
			Summary: "preStop sleeps with the native sleep action, not an exec of sleep, which distroless images cannot run"},
	}
}

func checkGraceBudget(ix *index, e *emitter) {
	ix.forEachContainer(func(w *workload, c *corev1.Container) {
		t := ix.timeline(w, c)
		if len(t.unresolved) > 0 || len(t.invalid) > 0 || t.total <= t.grace {
			return
		}
		need := (t.total + time.Second - 1) / time.Second
		e.addf(w.obj, w.path("terminationGracePeriodSeconds"),
			fmt.Sprintf("set terminationGracePeriodSeconds to at least %d, or shorten the timings of container %s", need, c.Name),
			"container %s needs %s = %s to shut down, but terminationGracePeriodSeconds is %s: SIGKILL cuts the drain short and in-flight requests fail",
			c.Name, strings.Join(t.terms, " + "), seconds(t.total), seconds(t.grace))
	})
}

func checkGraceUnresolved(ix *index, e *emitter) {
	ix.forEachContainer(func(w *workload, c *corev1.Container) {
		t := ix.timeline(w, c)
		if len(t.invalid) > 0 {
			e.addf(w.obj, w.containerPath(c)+".env", "use a Go duration such as 10s",
				"cannot read the shutdown timings: %s", strings.Join(t.invalid, "; "))
		}
		if len(t.unresolved) > 0 {
			slices.Sort(t.unresolved)
			e.addf(w.obj, w.containerPath(c)+".envFrom", "lint the ConfigMap together with the "+w.kind()+" (the kustomize directory, or both files)",
				"cannot check the grace budget of container %s: %s, and may hold its shutdown timings", c.Name, strings.Join(slices.Compact(t.unresolved), "; "))
		}
	})
}

func checkDrainMissing(ix *index, e *emitter) {
	ix.forEachContainer(func(w *workload, c *corev1.Container) {
		t := ix.timeline(w, c)
		if !ix.serving(w, c) || len(t.unresolved) > 0 || t.hook.sleep+t.delay > 0 || t.hook.httpGet {
			return
		}
		e.addf(w.obj, w.containerPath(c)+".lifecycle.preStop", drainFix(t, ix.atLeast(sleepActionMinor)),
			"container %s shows no drain: %s, and no drain delay the linter knows (SHUTDOWN_DELAY, --shutdown-delay): unless the app keeps serving after SIGTERM on its own, it stops while kube-proxy, ingress controllers and DNS still send it traffic for a few seconds, and those requests fail%s", c.Name, t.hook.describe(), ix.servingAssumed(w))
	})
}

func checkDrainShort(ix *index, e *emitter) {
	ix.forEachContainer(func(w *workload, c *corev1.Container) {
		t := ix.timeline(w, c)
		drain := t.hook.sleep + t.delay
		if !ix.serving(w, c) || len(t.unresolved) > 0 || drain == 0 || drain >= minDrainDelay {
			return
		}
		field := w.containerPath(c) + ".lifecycle.preStop.sleep.seconds"
		if t.delay > 0 {
			field = w.containerPath(c) + ".env[SHUTDOWN_DELAY]"
		}
		e.addf(w.obj, field, fmt.Sprintf("drain for at least %s (10s behind an ingress, 20-30s behind a cloud load balancer)", seconds(minDrainDelay)),
			"container %s drains for only %s: endpoint removal can take longer to reach every proxy, which keeps routing to a pod that has stopped", c.Name, seconds(drain))
	})
}

func checkDrainDouble(ix *index, e *emitter) {
	ix.forEachContainer(func(w *workload, c *corev1.Container) {
		t := ix.timeline(w, c)
		if t.hook.sleep == 0 || t.delay == 0 {
			return
		}
		e.addf(w.obj, w.containerPath(c)+".lifecycle.preStop", "keep one: the in-app delay (the app fails readiness at once) or the preStop sleep (for apps that cannot be changed)",
			"container %s waits twice, %s in preStop and then %s in the app: the drains add up and slow every rollout", c.Name, seconds(t.hook.sleep), seconds(t.delay))
	})
}

func checkDrainDetection(ix *index, e *emitter) {
	ix.forEachContainer(func(w *workload, c *corev1.Container) {
		t := ix.timeline(w, c)
		p := c.ReadinessProbe
		if t.delay == 0 || p == nil {
			return
		}
		detect := time.Duration(orDefault(p.PeriodSeconds, defaultPeriod)*orDefault(p.FailureThreshold, defaultFailures)+orDefault(p.TimeoutSeconds, defaultTimeout)) * time.Second
		if detect <= t.delay {
			return
		}
		e.addf(w.obj, w.containerPath(c)+".readinessProbe",
			fmt.Sprintf("make periodSeconds × failureThreshold + timeoutSeconds at most %s, or raise SHUTDOWN_DELAY to %s", seconds(t.delay), seconds(detect)),
			"readiness takes up to %s to notice the drain, but container %s stops serving after its drain delay of %s: whatever follows pod readiness (load balancers, the serving endpoint condition) still routes to it",
			seconds(detect), c.Name, seconds(t.delay))
	})
}

func orDefault(v, def int32) int32 {
	if v == 0 {
		return def
	}
	return v
}

func checkPreStopExecSleep(ix *index, e *emitter) {
	ix.forEachContainer(func(w *workload, c *corev1.Container) {
		h := preStopOf(c)
		if !h.execSleep || !ix.atLeast(sleepActionMinor) {
			return // before 1.30 the exec is the only way to sleep
		}
		e.addf(w.obj, w.containerPath(c)+".lifecycle.preStop.exec",
			"use the native action, lifecycle.preStop.sleep.seconds (on by default since Kubernetes 1.30, GA in 1.34), which needs nothing in the image",
			"container %s runs %q in its preStop hook to wait before SIGTERM: distroless and scratch images have no shell or sleep binary, so the hook fails and the drain is skipped", c.Name, h.command)
	})
}
