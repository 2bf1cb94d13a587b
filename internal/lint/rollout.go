package lint

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

const strategyPath = "spec.strategy.rollingUpdate"

func rolloutRules() []Rule {
	return []Rule{
		{ID: "rollout-strategy", Severity: Error, check: checkRolloutStrategy,
			Summary: "Deployments roll with RollingUpdate, not Recreate, which stops every pod before starting new ones"},
		{ID: "rollout-max-unavailable", Severity: Error, check: checkMaxUnavailable,
			Summary: "maxUnavailable is below the replica count, so a rollout never takes every pod down"},
		{ID: "rollout-capacity", Severity: Warning, check: checkRolloutCapacity,
			Summary: "maxUnavailable is 0 and maxSurge ≥ 1, so capacity holds through a rollout (Deployments; serving DaemonSets that can surge)"},
		{ID: "replicas-min", Severity: Warning, check: checkReplicasMin,
			Summary: "a serving Deployment, StatefulSet, ReplicaSet, ReplicationController or Rollout runs at least 2 replicas (spec.replicas, or the HPA's minReplicas), so one pod is always serving"},
		{ID: "hostport-surge", Severity: Error, check: checkHostPortSurge,
			Summary: "a Deployment or DaemonSet whose pods bind a hostPort does not surge with maxUnavailable 0 (a DaemonSet: at all), since the surge pod cannot bind the port beside the pod it replaces"},
		{ID: "rwo-rolling", Severity: Error, check: checkRWORolling,
			Summary: "a Deployment that mounts a ReadWriteOnce (or ReadWriteOncePod) claim of the input does not roll with a surge, which the new pod cannot attach"},
		{ID: "statefulset-partition", Severity: Warning, check: checkStatefulSetPartition,
			Summary: "a StatefulSet's rolling update partition is below its replica count, so an update reaches at least one pod"},
		{ID: "no-rolling-update", Severity: Warning, check: checkNoRollingUpdate,
			Summary: "a workload's update rolls its pods: no ReplicationController, bare ReplicaSet, or StatefulSet or DaemonSet with updateStrategy OnDelete, whose new template reaches a pod only when someone deletes it"},
		{ID: "progress-deadline", Severity: Error, check: checkProgressDeadline,
			Summary: "progressDeadlineSeconds is greater than minReadySeconds, or no rollout can ever complete"},
	}
}

// fenceposts resolves maxSurge and maxUnavailable against the replica count
// as the Deployment controller does: surge rounds up, unavailable rounds
// down, both default to 25%, and if both come out 0 unavailable becomes 1.
func fenceposts(d *appsv1.Deployment, replicas int32) (surge, unavailable int, err error) {
	def := intstr.FromString("25%")
	s, u := &def, &def
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil {
		if ru.MaxSurge != nil {
			s = ru.MaxSurge
		}
		if ru.MaxUnavailable != nil {
			u = ru.MaxUnavailable
		}
	}
	surge, err = intstr.GetScaledValueFromIntOrPercent(s, int(replicas), true)
	if err != nil {
		return 0, 0, fmt.Errorf("maxSurge: %w", err)
	}
	unavailable, err = intstr.GetScaledValueFromIntOrPercent(u, int(replicas), false)
	if err != nil {
		return 0, 0, fmt.Errorf("maxUnavailable: %w", err)
	}
	if surge == 0 && unavailable == 0 {
		unavailable = 1
	}
	return surge, unavailable, nil
}

// deployment is a Deployment workload with its typed spec, for the rollout
// rules, which read the Deployment's own strategy.
type deployment struct {
	w *workload
	v *appsv1.Deployment
}

// deployments lists the Deployments of the input.
func (ix *index) deployments() []deployment {
	var out []deployment
	for _, w := range ix.workloads {
		if w.deployment != nil {
			out = append(out, deployment{w, w.deployment})
		}
	}
	return out
}

func rolling(d *appsv1.Deployment) bool {
	return d.Spec.Strategy.Type == "" || d.Spec.Strategy.Type == appsv1.RollingUpdateDeploymentStrategyType
}

// safeRolling is the rolling update that suits the pods: a surge where one
// is possible, else one pod at a time, for pods that cannot run beside their
// replacement (a hostPort), with why.
func (ix *index) safeRolling(w *workload) (fix, why string) {
	if ports := w.hostPorts(); len(ports) > 0 {
		return "RollingUpdate with maxSurge: 0 and maxUnavailable: 1, and at least 2 replicas", fmt.Sprintf("the pods bind hostPort %d, so a surge pod cannot start beside the one it replaces", ports[0])
	}
	return "RollingUpdate with maxSurge: 1 and maxUnavailable: 0", ""
}

func checkRolloutStrategy(ix *index, e *emitter) {
	for _, d := range ix.deployments() {
		if rolling(d.v) {
			continue
		}
		if s, ok := ix.singletonOf(d.w); ok && (s.strong() || len(ix.rwoClaims(d.w)) == 0) {
			continue // one instance, stopped before the next starts: what singleton-surge advises
		}
		if claims := ix.rwoClaims(d.w); len(claims) > 0 {
			e.addf(d.w.obj, "spec.strategy.type", "give each pod its own volume (a StatefulSet with volumeClaimTemplates), or use ReadWriteMany storage, then roll with maxSurge: 1 and maxUnavailable: 0; keep Recreate only where the downtime is acceptable",
				"strategy %s stops every old pod before the new ones start: the service is down for the whole rollout. Recreate is what ReadWriteOnce claim %s needs (a rolling update would deadlock on it), so the fix is in the storage", d.v.Spec.Strategy.Type, claims[0])
			continue
		}
		fix, why := ix.safeRolling(d.w)
		if why != "" {
			fix += " (" + why + ")"
		}
		e.addf(d.w.obj, "spec.strategy.type", "use type: "+fix,
			"strategy %s stops every old pod before the new ones start: the service is down for the whole rollout", d.v.Spec.Strategy.Type)
	}
}

func checkMaxUnavailable(ix *index, e *emitter) {
	for _, d := range ix.deployments() {
		replicas := ix.replicas(d.w)
		if _, one := ix.singletonOf(d.w); !rolling(d.v) || replicas == 0 || one {
			continue // a single instance stops before its replacement starts, as it must
		}
		_, u, err := fenceposts(d.v, replicas)
		if err != nil || u < int(replicas) {
			continue
		}
		fix := "set maxUnavailable: 0 and maxSurge: 1"
		if len(d.w.hostPorts()) > 0 {
			fix = "set maxUnavailable: 1 and maxSurge: 0 with at least 2 replicas (the pods bind a hostPort, so they cannot surge)"
		}
		e.addf(d.w.obj, strategyPath+".maxUnavailable", fix,
			"maxUnavailable resolves to %d with %d replicas: a rollout may take every pod down at once", u, replicas)
	}
}

func checkRolloutCapacity(ix *index, e *emitter) {
	for _, d := range ix.deployments() {
		replicas := ix.replicas(d.w)
		if !rolling(d.v) || replicas == 0 {
			continue
		}
		s, u, err := fenceposts(d.v, replicas)
		if err != nil {
			e.addf(d.w.obj, strategyPath, "use a whole number or a percentage such as 25%", "cannot resolve the rolling update: %v", err)
			continue
		}
		if u == 0 || u >= int(replicas) {
			continue // full capacity, or already an error of rollout-max-unavailable
		}
		if len(d.w.hostPorts()) > 0 || len(ix.rwoClaims(d.w)) > 0 {
			continue // the pods cannot surge: an old pod must go first
		}
		e.addf(d.w.obj, strategyPath+".maxUnavailable", "set maxUnavailable: 0 and maxSurge: 1 (or more), so new pods are added before old ones go",
			"maxUnavailable resolves to %d and maxSurge to %d with %d replicas: the rollout removes serving pods before their replacements are ready, and the rest take their load", u, s, replicas)
	}
	for _, w := range ix.workloads {
		if w.daemonSet != nil && ix.servingWorkload(w) && !daemonSetSurges(w.daemonSet) &&
			len(w.hostPorts()) == 0 && !w.spec().HostNetwork && w.daemonSet.Spec.UpdateStrategy.Type != appsv1.OnDeleteDaemonSetStrategyType {
			e.addf(w.obj, "spec.updateStrategy.rollingUpdate", "set maxSurge: 1 and maxUnavailable: 0, so each node's new pod is ready before the old one goes",
				"the DaemonSet deletes each node's pod before starting its replacement (maxSurge 0): until the new pod is ready the node has none, and traffic kept on the node (externalTrafficPolicy or internalTrafficPolicy Local) fails")
		}
	}
}

// daemonSetSurges reports whether a DaemonSet's update starts each node's
// new pod before deleting the old one. A DaemonSet whose pods bind a host
// port or the host network cannot: two pods would share the node's port.
func daemonSetSurges(ds *appsv1.DaemonSet) bool {
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	return ru != nil && ru.MaxSurge != nil && ru.MaxSurge.String() != "0" && ru.MaxSurge.String() != "0%"
}

// checkReplicasMin covers every kind that runs a replica count. A
// StatefulSet cannot surge: it replaces each pod in place, so with one
// replica every rollout is an outage, not only a node loss.
func checkReplicasMin(ix *index, e *emitter) {
	for _, w := range ix.workloads {
		if !w.scalable() || !ix.servingWorkload(w) {
			continue // a worker with one replica is slower after a node loss, not down
		}
		if h, ok := ix.hpaFor(w); ok {
			if h.minReplicas < 2 {
				e.addf(h.obj, "spec.minReplicas", "set minReplicas: 2 or more",
					"minReplicas is %d: at its low point %s %s runs one pod, and a node loss or an eviction takes the service down", h.minReplicas, w.kind(), w.obj.Name)
			}
			continue
		}
		if r := deref(w.replicas, 1); r < 2 {
			unset := ""
			if w.replicas == nil {
				unset = " (spec.replicas is unset, and no autoscaler in the input targets it)"
			}
			also := "(a rollout still surges)"
			switch {
			case !w.rolled():
				also = "and so does every update, which reaches the pod only by deleting it"
			case w.statefulSet != nil:
				also = "and so does every rollout, which replaces the pod in place"
			case w.deployment != nil && !rolling(w.deployment):
				also = "and so does every rollout, which Recreate starts by stopping the pod"
			}
			fix := "run at least 2 replicas (3 across zones) where availability matters"
			if standby := leaderElected(w); standby != "" {
				fix += fmt.Sprintf(" (with %s, the others stand by for the lease)", standby)
			}
			if claims := ix.rwoClaims(w); len(claims) > 0 {
				fix = fmt.Sprintf("the pods share ReadWriteOnce claim %s, so a second replica would have to share its node and its files: for availability, move the state out (a database, or a StatefulSet with a volume per pod), then run at least 2 replicas", claims[0])
			}
			if one := ix.singletonFix(w); one != "" {
				fix = one
			}
			e.addf(w.obj, "spec.replicas", fix,
				"the %s runs %s%s: a node loss or an eviction takes the service down %s%s", w.kind(), plural(int(r), "replica"), unset, also, ix.servingAssumed(w))
		}
	}
}

// checkHostPortSurge: a node has each host port once, so a surge pod lands
// only on a node with no pod of the workload. A DaemonSet's surge pod must
// share the node with the pod it replaces, so it never starts; a
// Deployment's stays Pending once its pods fill the nodes, and the rollout
// stalls unless maxUnavailable lets the controller remove an old pod
// meanwhile, which frees a node's port for it.
func checkHostPortSurge(ix *index, e *emitter) {
	for _, w := range ix.workloads {
		ports := w.hostPorts()
		if len(ports) == 0 {
			continue
		}
		switch {
		case w.deployment != nil && rolling(w.deployment):
			surge, unavailable, err := fenceposts(w.deployment, ix.replicas(w))
			if err != nil || surge == 0 || unavailable > 0 {
				continue // maxUnavailable lets an old pod go first, which frees its node's port
			}
			e.addf(w.obj, strategyPath+".maxSurge", "set maxSurge: 0 and maxUnavailable: 1, so each old pod frees the port before its replacement needs it; or drop hostPort and reach the pods through a Service",
				"the pods bind hostPort %d and the rollout surges by %d with maxUnavailable 0: the surge pod fits only on a node with no pod of this Deployment, and no old pod goes before it is ready, so once the pods fill the nodes it stays Pending and the rollout stalls", ports[0], surge)
		case w.daemonSet != nil:
			if !daemonSetSurges(w.daemonSet) {
				continue
			}
			e.addf(w.obj, "spec.updateStrategy.rollingUpdate.maxSurge", "set maxSurge: 0 and maxUnavailable: 1, or drop hostPort",
				"the pods bind hostPort %d and the DaemonSet surges: the new pod must run on the same node as the old one, which holds the port, so it never starts and the rollout stalls", ports[0])
		}
	}
}

// rwoClaims lists the claims w's pods mount that the input declares
// ReadWriteOnce or ReadWriteOncePod: one node (or one pod) at a time.
func (ix *index) rwoClaims(w *workload) []string {
	var out []string
	for _, v := range w.spec().Volumes {
		if v.PersistentVolumeClaim == nil {
			continue
		}
		for _, c := range ix.pvcs {
			if c.obj.Name != v.PersistentVolumeClaim.ClaimName || !sameNamespace(c.obj, w.obj) {
				continue
			}
			for _, m := range c.v.Spec.AccessModes {
				if m == corev1.ReadWriteOnce || m == corev1.ReadWriteOncePod {
					out = append(out, c.obj.Name)
					break
				}
			}
		}
	}
	return out
}

func checkRWORolling(ix *index, e *emitter) {
	for _, d := range ix.deployments() {
		claims := ix.rwoClaims(d.w)
		if len(claims) == 0 || !rolling(d.v) {
			continue
		}
		e.addf(d.w.obj, "spec.strategy.type", "give each pod its own volume (a StatefulSet with volumeClaimTemplates), or use ReadWriteMany storage; type: Recreate avoids the deadlock at the price of downtime on each rollout",
			"the pods mount ReadWriteOnce claim %s and the Deployment rolls: the new pod cannot attach the volume while the old one holds it (on another node, or at all for ReadWriteOncePod), so it stays ContainerCreating and the rollout stalls", claims[0])
	}
}

// checkStatefulSetPartition: a StatefulSet updates only the pods whose
// ordinal is at least the partition, so a partition at or above the replica
// count (a staged rollout left behind, or a copied value) makes every apply
// change nothing while the manifest says the new version is out.
func checkStatefulSetPartition(ix *index, e *emitter) {
	for _, w := range ix.workloads {
		ss := w.statefulSet
		if ss == nil || ss.Spec.UpdateStrategy.RollingUpdate == nil || ss.Spec.UpdateStrategy.RollingUpdate.Partition == nil {
			continue
		}
		p, r := *ss.Spec.UpdateStrategy.RollingUpdate.Partition, ix.replicas(w)
		if p < r || p == 0 {
			continue
		}
		e.addf(w.obj, "spec.updateStrategy.rollingUpdate.partition", fmt.Sprintf("lower the partition below %d (to 0 once the staged pods are healthy), so the update reaches the pods", r),
			"partition %d is not below the %s: the update reaches no pod, and every pod keeps running the old template", p, plural(int(r), "replica"))
	}
}

// checkNoRollingUpdate: these kinds apply a new template and change no
// running pod, so the manifest says one version while the pods run
// another, and the update happens only as someone deletes pods, with no
// surge, readiness gate or budget pacing it: deleting them together is an
// outage. Jobs and CronJobs are not rolled either, but their pods run once.
func checkNoRollingUpdate(ix *index, e *emitter) {
	for _, w := range ix.workloads {
		if w.rolled() || w.runsToCompletion() {
			continue
		}
		serving := ""
		if ix.servingWorkload(w) {
			serving = "; while it serves, each deleted pod is gone from its endpoints until its replacement is ready, and deleting them together is an outage"
		}
		switch {
		case w.statefulSet != nil || w.daemonSet != nil:
			e.addf(w.obj, "spec.updateStrategy.type", "use type: RollingUpdate (with a partition, for a StatefulSet updated in stages), unless an operator deletes the pods in an order of its own",
				"updateStrategy OnDelete: a new pod template reaches a pod only when someone deletes that pod, so every update is done by hand, pod by pod%s", serving)
		default:
			e.addf(w.obj, "spec.template", "use a Deployment with the same selector and template (strategy RollingUpdate, maxSurge: 1, maxUnavailable: 0), which rolls the pods on every change",
				"a %s never rolls: a new pod template reaches a pod only when someone deletes that pod, so every update is done by hand%s", w.kind(), serving)
		}
	}
}

func checkProgressDeadline(ix *index, e *emitter) {
	for _, d := range ix.deployments() {
		pd := deref(d.v.Spec.ProgressDeadlineSeconds, 600)
		if pd > d.v.Spec.MinReadySeconds {
			continue
		}
		e.addf(d.w.obj, "spec.progressDeadlineSeconds", "set progressDeadlineSeconds above minReadySeconds plus the time a pod takes to become ready",
			"progressDeadlineSeconds %d is not greater than minReadySeconds %d: every rollout is reported as failed", pd, d.v.Spec.MinReadySeconds)
	}
}
