package lint

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// slowStart is the liveness initialDelaySeconds from which a startup probe
// should own the start: a long fixed delay is both too long for a fast start
// and too short for a slow one. Shorter delays (kubebuilder scaffolds 15 s,
// Knative and KEDA ship 15 to 25 s) leave little to gain, and the upstream
// corpus showed them dismissed as noise.
const slowStart = 30

// silenceBound is how long readiness may take to notice a pod that has gone
// silent: its process frozen or its network dropping packets, so that it
// sends no FIN and no RST. Nothing else takes such a pod out of the
// endpoints, and every request routed to it hangs until its client gives
// up. The bound is not the whole outage: once the pod is unready, its
// removal still has to reach kube-proxy, ingress controllers and DNS, which
// is why drains last 5 to 10 s (minDrainDelay, drain-short). A client keeps
// idempotent calls whole by retrying them elsewhere after a per-attempt
// timeout, but its retry budget is sized for the burst of one pod's loss,
// not for a pod that swallows calls for half a minute, as the API defaults
// let it (31 s). 10 s is the drain delay the generated service gives a
// planned exit, and drain-detection holds its readiness to it: a pod that
// leaves without warning should not be noticed more slowly than one that
// says goodbye. It still lets readiness miss two answers in a row (period 3,
// threshold 3, timeout 1), so a GC pause or one slow answer does not flap
// the pod out of rotation; the generated service takes 5 s.
const silenceBound = 10 * time.Second

func probeRules() []Rule {
	return []Rule{
		{ID: "readiness-probe-missing", Severity: Error, check: checkReadinessMissing,
			Summary: "every serving container has a readiness probe, so new pods get traffic only once they can serve"},
		{ID: "readiness-silence-detection", Severity: Warning, check: checkSilenceDetection,
			Summary: "readiness notices a silent pod (periodSeconds × failureThreshold + timeoutSeconds) within " + seconds(silenceBound) + ", so a pod that stops answering without closing its connections leaves the endpoints while clients can still retry elsewhere"},
		{ID: "liveness-probe-missing", Severity: Warning, check: checkLivenessMissing,
			Summary: "every serving container has a liveness probe, so a hung process is restarted"},
		{ID: "probes-identical", Severity: Error, check: checkProbesIdentical,
			Summary: "liveness and readiness probe different things: an overload or a slow dependency must not restart the pod"},
		{ID: "liveness-faster-than-readiness", Severity: Warning, check: checkLivenessFaster,
			Summary: "liveness gives up no sooner than readiness, so a busy pod leaves rotation before it is restarted"},
		{ID: "startup-probe-missing", Severity: Warning, check: checkStartupMissing,
			Summary: "a startup probe, not a long liveness initialDelaySeconds, covers a slow start"},
		{ID: "probe-port", Severity: Error, check: checkProbePort,
			Summary: "every named probe port is declared by the container"},
	}
}

func checkReadinessMissing(ix *index, e *emitter) {
	ix.forEachContainer(func(w *workload, c *corev1.Container) {
		if !ix.serving(w, c) || c.ReadinessProbe != nil {
			return
		}
		e.addf(w.obj, w.containerPath(c)+".readinessProbe",
			"add a readinessProbe on an endpoint that answers only once the app can serve (for example httpGet /readyz), and fails while it drains",
			"container %s has no readiness probe: a new pod takes traffic as soon as the process starts, before it can serve, and old pods are removed as soon as it exists%s", c.Name, ix.servingAssumed(w))
	})
}

// silentNotice is the longest readiness takes to mark a pod unready when
// the pod goes silent just after answering a probe. A probe of a silent pod
// times out rather than failing fast (an exec probe, only if its command
// asks the app), and the kubelet runs one probe at a time: the first to
// fail starts at the next tick, up to periodSeconds later, and takes
// timeoutSeconds; each of the others starts at its own tick, or at once
// when the timeout outlasts the period (the ticker keeps one missed tick).
// failureThreshold timeouts in a row end after P + (F−1)·max(P, T) + T,
// which is P·F + T when the timeout fits in the period. how spells the sum
// out, for messages.
func silentNotice(p *corev1.Probe) (d time.Duration, how string) {
	t := timingsOf(p)
	term := func(name string, set, v int32) string {
		if set == 0 {
			return fmt.Sprintf("%s %d (default)", name, v)
		}
		return fmt.Sprintf("%s %d", name, v)
	}
	ps, ts, fs := term("periodSeconds", p.PeriodSeconds, t.period), term("timeoutSeconds", p.TimeoutSeconds, t.timeout), term("failureThreshold", p.FailureThreshold, t.failures)
	if t.timeout <= t.period {
		return time.Duration(t.period*t.failures+t.timeout) * time.Second, fmt.Sprintf("%s × %s + %s", ps, fs, ts)
	}
	return time.Duration(t.period+t.failures*t.timeout) * time.Second,
		fmt.Sprintf("%s + %s × %s: the timeout outlasts the period, so the probes run back to back", ps, fs, ts)
}

// probeTimings are the fields of a probe that set how fast it gives up.
type probeTimings struct{ period, timeout, failures int32 }

func timingsOf(p *corev1.Probe) probeTimings {
	return probeTimings{orDefault(p.PeriodSeconds, defaultPeriod), orDefault(p.TimeoutSeconds, defaultTimeout), orDefault(p.FailureThreshold, defaultFailures)}
}

// silenceFix suggests the smallest change that brings silentNotice within
// silenceBound: a shorter period, keeping the threshold and timeout the
// team chose, when one fits; else a one-second timeout and three misses,
// which need an endpoint that answers well within that second, at a period
// no longer than the team's.
func silenceFix(p *corev1.Probe) (to probeTimings, fix string) {
	bound := int32(silenceBound / time.Second)
	rule := fmt.Sprintf("periodSeconds × failureThreshold + timeoutSeconds at most %s, with timeoutSeconds no longer than periodSeconds", seconds(silenceBound))
	to = timingsOf(p)
	if fit := (bound - to.timeout) / to.failures; fit >= to.timeout && fit < to.period {
		to.period = fit
		return to, fmt.Sprintf("set periodSeconds to %d (%d × %d + %d = %ds), or lower failureThreshold: %s",
			to.period, to.period, to.failures, to.timeout, to.period*to.failures+to.timeout, rule)
	}
	to = probeTimings{timeout: 1, failures: 3}
	to.period = min((bound-to.timeout)/to.failures, orDefault(p.PeriodSeconds, defaultPeriod))
	return to, fmt.Sprintf("set periodSeconds: %d, failureThreshold: %d and timeoutSeconds: %d (%d × %d + %d = %ds), on a readiness endpoint that answers well within a second: %s",
		to.period, to.failures, to.timeout, to.period, to.failures, to.timeout, to.period*to.failures+to.timeout, rule)
}

// silenceSeen says which silence a probe's handler can notice at all, and
// what would notice both. The kubelet sends httpGet, grpc and tcpSocket
// probes over the pod's network, but the kernel completes the handshake of
// a tcpSocket probe for a process that froze; an exec probe runs inside the
// container, off that network.
func silenceSeen(p *corev1.Probe) (seen, handler string) {
	switch {
	case p.Exec != nil:
		return "; an exec probe runs inside the container, so it notices a process that froze, if its command asks it, but never a network that drops packets",
			"; an httpGet or grpc probe, which the kubelet sends over the pod's network, notices both"
	case p.TCPSocket != nil:
		return "; a tcpSocket probe notices a network that drops packets, but not a process that froze, whose kernel still completes the handshake",
			"; an httpGet or grpc probe on an endpoint the app answers notices both"
	}
	return "", ""
}

// checkSilenceDetection leaves a container without readiness to
// readiness-probe-missing, which gives the fix that matters first, and a
// workload of one pod to replicas-min: noticing silence helps by sending
// the requests to other pods, and with none a quicker probe only turns a
// hang into a refusal.
func checkSilenceDetection(ix *index, e *emitter) {
	ix.forEachContainer(func(w *workload, c *corev1.Container) {
		p := c.ReadinessProbe
		if p == nil || !ix.serving(w, c) || (w.scalable() && ix.replicas(w) < 2) {
			return
		}
		notice, how := silentNotice(p)
		if notice <= silenceBound {
			return
		}
		seen, handler := silenceSeen(p)
		_, fix := silenceFix(p)
		e.addf(w.obj, w.containerPath(c)+".readinessProbe", fix+handler,
			"readiness of container %s takes up to %s, more than %s, to notice that its pod has gone silent: with no FIN or RST to fail on, every probe waits out its timeout (%s%s). Until then, and while its removal from endpoints propagates, requests routed to a pod whose process froze or whose network drops packets hang until their clients time out, and retries of idempotent calls run out%s",
			c.Name, seconds(notice), seconds(silenceBound), how, seen, ix.servingAssumed(w))
	})
}

func checkLivenessMissing(ix *index, e *emitter) {
	ix.forEachContainer(func(w *workload, c *corev1.Container) {
		if !ix.serving(w, c) || c.LivenessProbe != nil {
			return
		}
		e.addf(w.obj, w.containerPath(c)+".livenessProbe",
			"add a livenessProbe on an endpoint that checks only the process itself (for example httpGet /livez)",
			"container %s has no liveness probe: a deadlocked process stays in place until someone notices%s", c.Name, ix.servingAssumed(w))
	})
}

// probeTarget says what a probe asks, with named ports resolved, so that two
// probes that look different but hit the same endpoint compare equal.
func probeTarget(c *corev1.Container, p *corev1.Probe) string {
	port := func(ps intstr.IntOrString) string {
		if n, ok := resolvePort(c, ps); ok {
			return fmt.Sprint(n)
		}
		return ps.String()
	}
	switch h := p.ProbeHandler; {
	case h.HTTPGet != nil:
		t := fmt.Sprintf("httpGet port %s path %s", port(h.HTTPGet.Port), cmp.Or(h.HTTPGet.Path, "/"))
		if h.HTTPGet.Host != "" || (h.HTTPGet.Scheme != "" && h.HTTPGet.Scheme != corev1.URISchemeHTTP) {
			t += fmt.Sprintf(" (%s, host %q)", h.HTTPGet.Scheme, h.HTTPGet.Host)
		}
		return t
	case h.GRPC != nil:
		return fmt.Sprintf("grpc %d service %q", h.GRPC.Port, deref(h.GRPC.Service, ""))
	case h.TCPSocket != nil:
		return "tcpSocket " + port(h.TCPSocket.Port)
	case h.Exec != nil:
		return "exec " + strings.Join(h.Exec.Command, " ")
	}
	return ""
}

// giveUp is how long a failing probe takes to act: periodSeconds ×
// failureThreshold, with the API defaults.
func giveUp(p *corev1.Probe) int32 {
	return orDefault(p.PeriodSeconds, defaultPeriod) * orDefault(p.FailureThreshold, defaultFailures)
}

// checkProbesIdentical and checkLivenessFaster split one question between
// them, so that they never both fire with different advice: two probes on
// the same check are probes-identical's, whatever their timings, and the
// message says what the timings already do. The kubelet forces liveness to
// succeed once a pod terminates, so a drain alone restarts nothing; an
// unready spell (an overload, a slow dependency) does, once it outlasts
// liveness's patience.
func checkProbesIdentical(ix *index, e *emitter) {
	ix.forEachContainer(func(w *workload, c *corev1.Container) {
		l, r := c.LivenessProbe, c.ReadinessProbe
		if l == nil || r == nil {
			return
		}
		t := probeTarget(c, l)
		if t != probeTarget(c, r) {
			return
		}
		when := fmt.Sprintf("liveness gives up after %ds, no later than readiness (%ds), so every unready spell", giveUp(l), giveUp(r))
		if giveUp(l) > giveUp(r) {
			when = fmt.Sprintf("liveness gives up later (%ds) than readiness (%ds), but any unready spell that outlasts it", giveUp(l), giveUp(r))
		}
		e.addf(w.obj, w.containerPath(c)+".livenessProbe",
			"probe liveness on its own endpoint that only checks the process (/livez), and keep readiness (/readyz) for \"can serve now\"; for gRPC, use a different service name",
			"container %s uses the same check (%s) for liveness and readiness: %s (an overload, a slow dependency) also gets the pod restarted, and restarts cascade onto the pods left", c.Name, t, when)
	})
}

func checkLivenessFaster(ix *index, e *emitter) {
	ix.forEachContainer(func(w *workload, c *corev1.Container) {
		l, r := c.LivenessProbe, c.ReadinessProbe
		if l == nil || r == nil || probeTarget(c, l) == probeTarget(c, r) {
			return // the same check: probes-identical's to judge
		}
		lw, rw := giveUp(l), giveUp(r)
		if lw >= rw {
			return
		}
		e.addf(w.obj, w.containerPath(c)+".livenessProbe",
			fmt.Sprintf("make liveness periodSeconds × failureThreshold at least %ds", rw),
			"liveness of container %s fails after %ds, readiness only after %ds: a busy pod is restarted while it still takes traffic", c.Name, lw, rw)
	})
}

func checkStartupMissing(ix *index, e *emitter) {
	ix.forEachContainer(func(w *workload, c *corev1.Container) {
		l := c.LivenessProbe
		if l == nil || c.StartupProbe != nil || l.InitialDelaySeconds < slowStart {
			return
		}
		e.addf(w.obj, w.containerPath(c)+".startupProbe",
			fmt.Sprintf("add a startupProbe (periodSeconds × failureThreshold ≥ %ds, the worst start) and drop the liveness initialDelaySeconds", l.InitialDelaySeconds),
			"container %s delays liveness by %ds instead of using a startup probe: a slower start is killed, and a hang during the first %ds goes unnoticed", c.Name, l.InitialDelaySeconds, l.InitialDelaySeconds)
	})
}

func checkProbePort(ix *index, e *emitter) {
	ix.forEachContainer(func(w *workload, c *corev1.Container) {
		for _, p := range []struct {
			name  string
			probe *corev1.Probe
		}{{"startupProbe", c.StartupProbe}, {"readinessProbe", c.ReadinessProbe}, {"livenessProbe", c.LivenessProbe}} {
			if p.probe == nil {
				continue
			}
			var port intstr.IntOrString
			field := w.containerPath(c) + "." + p.name
			switch h := p.probe.ProbeHandler; {
			case h.HTTPGet != nil:
				port, field = h.HTTPGet.Port, field+".httpGet.port"
			case h.TCPSocket != nil:
				port, field = h.TCPSocket.Port, field+".tcpSocket.port"
			default:
				continue
			}
			if _, ok := resolvePort(c, port); ok {
				continue
			}
			e.addf(w.obj, field, "name one of the container's ports, or use the port number",
				"the %s of container %s uses port %q, which the container does not declare: the probe always fails", p.name, c.Name, port.StrVal)
		}
	})
}
