package lint

import (
	"cmp"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// slowStart is the liveness initialDelaySeconds from which a startup probe
// should own the start: a long fixed delay is both too long for a fast start
// and too short for a slow one. Shorter delays (kubebuilder scaffolds 15 s,
// Knative and KEDA ship 15 to 25 s) leave little to gain, and the upstream
// corpus showed them dismissed as noise.
const slowStart = 30

func probeRules() []Rule {
	return []Rule{
		{ID: "readiness-probe-missing", Severity: Error, check: checkReadinessMissing,
			Summary: "every serving container has a readiness probe, so new pods get traffic only once they can serve"},
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
