package lint

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
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
			Summary: "maxUnavailable is 0 and maxSurge ≥ 1, so capacity holds through a rollout"},
		{ID: "replicas-min", Severity: Warning, check: checkReplicasMin,
			Summary: "a serving Deployment, StatefulSet, ReplicaSet or Rollout runs at least 2 replicas (spec.replicas, or the HPA's minReplicas), so one pod is always serving"},
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

func checkRolloutStrategy(ix *index, e *emitter) {
	for _, d := range ix.deployments() {
		if rolling(d.v) {
			continue
		}
		e.addf(d.w.obj, "spec.strategy.type", "use type: RollingUpdate with maxSurge: 1 and maxUnavailable: 0",
			"strategy %s stops every old pod before the new ones start: the service is down for the whole rollout", d.v.Spec.Strategy.Type)
	}
}

func checkMaxUnavailable(ix *index, e *emitter) {
	for _, d := range ix.deployments() {
		replicas := ix.replicas(d.w)
		if !rolling(d.v) || replicas == 0 {
			continue
		}
		_, u, err := fenceposts(d.v, replicas)
		if err != nil || u < int(replicas) {
			continue
		}
		e.addf(d.w.obj, strategyPath+".maxUnavailable", "set maxUnavailable: 0 and maxSurge: 1",
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
		e.addf(d.w.obj, strategyPath+".maxUnavailable", "set maxUnavailable: 0 and maxSurge: 1 (or more), so new pods are added before old ones go",
			"maxUnavailable resolves to %d and maxSurge to %d with %d replicas: the rollout removes serving pods before their replacements are ready, and the rest take their load", u, s, replicas)
	}
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
			if w.statefulSet != nil {
				also = "and so does every rollout, which replaces the pod in place"
			}
			e.addf(w.obj, "spec.replicas", "run at least 2 replicas (3 across zones) where availability matters",
				"the %s runs %s%s: a node loss or an eviction takes the service down %s", w.kind(), plural(int(r), "replica"), unset, also)
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
