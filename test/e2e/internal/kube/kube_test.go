package kube

import (
	"fmt"
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func deploy(gen, observed int64, revision string) *appsv1.Deployment {
	three := int32(3)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Generation: gen, Annotations: map[string]string{revisionKey: revision}},
		Spec:       appsv1.DeploymentSpec{Replicas: &three},
		Status:     appsv1.DeploymentStatus{ObservedGeneration: observed},
	}
}

func rs(revision, hash string) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{
		Annotations: map[string]string{revisionKey: revision},
		Labels:      map[string]string{"pod-template-hash": hash},
	}}
}

var pods int // names the test's pods apart

func pod(hash string, ready, deleting bool) *corev1.Pod {
	pods++
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", hash, pods), Labels: map[string]string{"pod-template-hash": hash}}}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}
	if deleting {
		now := metav1.Now()
		p.DeletionTimestamp = &now
	}
	return p
}

func TestObserve(t *testing.T) {
	rss := []*appsv1.ReplicaSet{rs("1", "old"), rs("2", "new")}
	newReady := []*corev1.Pod{pod("new", true, false), pod("new", true, false), pod("new", true, false)}
	cases := []struct {
		name string
		d    *appsv1.Deployment
		pods []*corev1.Pod
		want RolloutState
		done bool
	}{
		{"all new and ready", deploy(2, 2, "2"), newReady,
			RolloutState{Revision: "2", NewHash: "new", Replicas: 3, NewReady: 3, Generation: true}, true},
		// rollout status would say done here; the harness waits for the drain.
		{"an old pod still draining", deploy(2, 2, "2"), append(newReady[:3:3], pod("old", false, true)),
			RolloutState{Revision: "2", NewHash: "new", Replicas: 3, NewReady: 3, OldPods: 1, Generation: true}, false},
		// Right after the command the controller has not seen the new spec,
		// and the old revision's pods look like a finished rollout.
		{"spec not yet observed", deploy(3, 2, "1"), []*corev1.Pod{pod("old", true, false), pod("old", true, false), pod("old", true, false)},
			RolloutState{Revision: "1", NewHash: "old", Replicas: 3, NewReady: 3}, false},
		{"a new pod not ready", deploy(2, 2, "2"), append(newReady[:2:2], pod("new", false, false)),
			RolloutState{Revision: "2", NewHash: "new", Replicas: 3, NewReady: 2, Other: 1, Generation: true}, false},
		{"a new pod terminating", deploy(2, 2, "2"), append(newReady[:3:3], pod("new", true, true)),
			RolloutState{Revision: "2", NewHash: "new", Replicas: 3, NewReady: 3, Other: 1, Generation: true}, false},
	}
	for _, c := range cases {
		got := observe(c.d, rss, c.pods)
		if len(got.Pods) != len(c.pods) {
			t.Errorf("%s: %d pods by name, want %d", c.name, len(got.Pods), len(c.pods))
		}
		got.Pods = nil // compared by count above
		if !reflect.DeepEqual(got, c.want) || got.Done() != c.done {
			t.Errorf("%s: got %+v (done %v), want %+v (done %v)", c.name, got, got.Done(), c.want, c.done)
		}
	}
}
