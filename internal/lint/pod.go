package lint

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// serving reports whether a container takes traffic, as kube-score decides
// it: a Service of the input selects the pod and one of its ports leads to
// the container. A port named for metrics, health or profiling does not
// count unless a route or Ingress of the input sends clients to it
// (routedPort). A numeric targetPort reaches the pod whether or not a
// container declares it; when none does, the first container (the one
// kubectl treats as the main one) is taken to listen.
//
// A sidecar's port that only a ServiceMonitor or PodMonitor scrapes is
// Prometheus's, not clients': see sidecarScrapedOnly.
//
// Where the input holds no Service in the workload's namespace, the Services
// live elsewhere, and a container that declares a port is taken to serve,
// if its kind serves through Services at all: a Job's pods run to
// completion, and a DaemonSet's ports are most often a node agent's, scraped
// or reached on the node, so both serve only behind a Service.
func (ix *index) serving(w *workload, c *corev1.Container) bool {
	services := ix.servicesFor(w)
	if len(services) == 0 {
		return w.scalable() && !ix.servicesIn(w.obj) && slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool {
			return !operationalPort(p.Name) && !ix.scrapedContainerPort(w, c, p)
		})
	}
	for _, s := range services {
		for _, p := range s.v.Spec.Ports {
			tp := targetPort(p)
			if (operationalPort(p.Name) || (tp.Type == intstr.String && operationalPort(tp.StrVal))) && !ix.routedPort(s, p) {
				continue
			}
			if target, ok := servingContainer(w.spec(), tp); ok && target == c.Name && !ix.sidecarScrapedOnly(s, p, w, c) {
				return true
			}
		}
	}
	return false
}

// servingAssumed qualifies a finding that rests on serving when no Service
// in the input decided it: the workload is assumed to take traffic because
// it declares a port, which holds for a lone Deployment file but not for a
// controller whose port only exposes metrics. The reader can tell which.
func (ix *index) servingAssumed(w *workload) string {
	if len(ix.servicesFor(w)) > 0 {
		return ""
	}
	return fmt.Sprintf(" (assumed to take traffic: no Service in the input selects %s %s, and it declares a port)", w.kind(), w.obj.Name)
}

// operationalPort reports whether a port, by its name, is for the cluster's
// machinery rather than for clients: metrics scrapes, health checks and
// profiling. A scrape that misses one drain is retried at the next
// interval, so such a port alone does not make a pod a server whose
// requests a rollout must not drop.
func operationalPort(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"metrics", "health", "healthz", "probes", "profiling", "pprof", "prometheus"} {
		if n == w || strings.HasPrefix(n, w+"-") || strings.HasSuffix(n, "-"+w) {
			return true
		}
	}
	return false
}

// servingContainer names the container a Service targetPort leads to.
func servingContainer(spec *corev1.PodSpec, tp intstr.IntOrString) (string, bool) {
	for _, c := range spec.Containers {
		for _, cp := range c.Ports {
			if (tp.Type == intstr.String && cp.Name == tp.StrVal) || (tp.Type == intstr.Int && cp.ContainerPort == tp.IntVal) {
				return c.Name, true
			}
		}
	}
	if tp.Type == intstr.Int && len(spec.Containers) > 0 {
		return spec.Containers[0].Name, true
	}
	return "", false // a name no container declares: service-target-port reports it
}

// servicesFor returns the Services of the input that select w's pods.
func (ix *index) servicesFor(w *workload) []typed[*corev1.Service] {
	return selecting(ix.services, w, func(s *corev1.Service) labels.Selector { return serviceSelector(s.Spec.Selector) })
}

// servicesIn reports whether the input has a Service with a selector in o's
// namespace, and so decides which pods there take traffic.
func (ix *index) servicesIn(o *Object) bool {
	for _, s := range ix.services {
		if len(s.v.Spec.Selector) > 0 && sameNamespace(s.obj, o) {
			return true
		}
	}
	return false
}

// servingWorkload reports whether any container of w takes traffic.
func (ix *index) servingWorkload(w *workload) bool {
	for _, c := range w.containers() {
		if ix.serving(w, c) {
			return true
		}
	}
	return false
}

// forEachContainer calls fn for every app container of every workload.
func (ix *index) forEachContainer(fn func(w *workload, c *corev1.Container)) {
	for _, w := range ix.workloads {
		for _, c := range w.containers() {
			fn(w, c)
		}
	}
}

// resolvePort turns a port (number or name) into the container's port
// number; ok is false for a name the container does not declare.
func resolvePort(c *corev1.Container, p intstr.IntOrString) (int32, bool) {
	if p.Type == intstr.Int {
		return p.IntVal, true
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

// envValue is a container variable as the kubelet would resolve it, or why it
// cannot be resolved from the input alone.
type envValue struct {
	value      string
	from       string // where the value was found, for messages
	set        bool
	unresolved string // non-empty when the value lives outside the input
}

// env resolves name in c with the kubelet's precedence: env entries over
// envFrom, and later envFrom sources over earlier ones. ConfigMaps are
// looked up in the input.
func (ix *index) env(o *Object, c *corev1.Container, name string) envValue {
	for i := len(c.Env) - 1; i >= 0; i-- {
		e := c.Env[i]
		if e.Name != name {
			continue
		}
		switch {
		case e.ValueFrom == nil:
			return envValue{value: e.Value, from: "env " + name, set: true}
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			cm, ok := ix.configMap(o, ref.Name)
			if !ok {
				return envValue{unresolved: fmt.Sprintf("%s comes from ConfigMap %s, which is not in the input", name, ref.Name)}
			}
			v, ok := cm.Data[ref.Key]
			if !ok {
				return envValue{unresolved: fmt.Sprintf("%s comes from key %s of ConfigMap %s, which has no such key", name, ref.Key, ref.Name)}
			}
			return envValue{value: v, from: fmt.Sprintf("ConfigMap %s key %s", ref.Name, ref.Key), set: true}
		default:
			return envValue{unresolved: name + " comes from a Secret or a field reference, which the linter cannot read"}
		}
	}
	for i := len(c.EnvFrom) - 1; i >= 0; i-- {
		ef := c.EnvFrom[i]
		if ef.ConfigMapRef == nil || !strings.HasPrefix(name, ef.Prefix) {
			continue
		}
		cm, ok := ix.configMap(o, ef.ConfigMapRef.Name)
		if !ok {
			return envValue{unresolved: fmt.Sprintf("envFrom ConfigMap %s is not in the input", ef.ConfigMapRef.Name)}
		}
		if v, ok := cm.Data[strings.TrimPrefix(name, ef.Prefix)]; ok {
			return envValue{value: v, from: "ConfigMap " + ef.ConfigMapRef.Name, set: true}
		}
	}
	return envValue{}
}

// parseSeconds reads a timing the way the generated service does (a Go
// duration such as 10s), and also a bare number of seconds, which other
// services commonly use.
func parseSeconds(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither a duration (10s) nor a number of seconds", s)
	}
	return d, nil
}

// preStopHook is what a container's preStop hook does to the shutdown
// timeline.
type preStopHook struct {
	sleep     time.Duration // how long it holds SIGTERM back
	native    bool          // lifecycle.preStop.sleep, which needs nothing in the image
	execSleep bool          // an exec hook that runs sleep, which needs a shell in the image
	command   string        // the exec command, for messages
	// httpGet: the hook asks the app itself to drain (Contour's envoy asks
	// its shutdown manager, which answers once connections have drained).
	// The kubelet waits for the answer before SIGTERM, for as long as the
	// app takes, which the input does not tell.
	httpGet bool
}

// execSleepRE finds `sleep N` in a shell command: N seconds, or N with an
// s/m/h suffix as GNU sleep takes it.
var execSleepRE = regexp.MustCompile(`(?:^|[\s;&|(])sleep\s+(\d+(?:\.\d+)?)([smh]?)(?:$|[\s;&|)])`)

// loopRE spots shell loops, whose duration cannot be read from the text.
var loopRE = regexp.MustCompile(`(?:^|[\s;&|(])(?:while|until|for)\s`)

func preStopOf(c *corev1.Container) preStopHook {
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil {
		return preStopHook{}
	}
	ps := c.Lifecycle.PreStop
	switch {
	case ps.Sleep != nil:
		return preStopHook{sleep: time.Duration(ps.Sleep.Seconds) * time.Second, native: true}
	case ps.Exec != nil:
		cmd := strings.Join(ps.Exec.Command, " ")
		h := preStopHook{command: cmd}
		m := execSleepRE.FindStringSubmatch(cmd)
		if m == nil {
			return h
		}
		h.execSleep = true
		if loopRE.MatchString(cmd) {
			return h // sleeps in a loop: no fixed duration to count
		}
		n, _ := strconv.ParseFloat(m[1], 64)
		unit := map[string]time.Duration{"": time.Second, "s": time.Second, "m": time.Minute, "h": time.Hour}[m[2]]
		h.sleep = time.Duration(n * float64(unit))
		return h
	case ps.HTTPGet != nil:
		return preStopHook{httpGet: true}
	}
	return preStopHook{}
}

// seconds formats a duration as a number of seconds, the unit of every
// Kubernetes timing field.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}
