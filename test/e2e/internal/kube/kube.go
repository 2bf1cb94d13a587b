// Package kube is the little of Kubernetes the e2e harness needs. Actions
// (apply, the rollout commands) shell out to kubectl, the client a person
// would use, so a run reads like a runbook. Waiting for a rollout watches
// through client-go instead, because it runs while latency is measured.
package kube

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

// Kubectl runs kubectl against one cluster.
type Kubectl struct {
	Kubeconfig string
}

// Run runs kubectl and returns its stdout. kubectl runs at nice 10: it is
// the person at a terminal, not part of the node, but it shares the
// harness's scheduler autogroup with the load's clients, and each start of
// it (the Go runtime, discovery) took a third to a half of both CPUs for
// 100-200 ms at their priority. In the phases that delete every pod, 64 of
// the 106 requests over 13 ms fell in the 100 ms bins that followed a
// `kubectl delete` (issue 13).
func (k Kubectl) Run(ctx context.Context, args ...string) ([]byte, error) {
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, "nice", append([]string{"-n", "10", "kubectl", "--kubeconfig", k.Kubeconfig}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

func (k Kubectl) getJSON(ctx context.Context, v any, args ...string) error {
	out, err := k.Run(ctx, append(args, "-o", "json")...)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("decode kubectl %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

type list[T any] struct {
	Items []T `json:"items"`
}

// RolloutState is one observation of a Deployment's pods.
type RolloutState struct {
	Revision   string // the Deployment's current revision
	NewHash    string // pod-template-hash of that revision's ReplicaSet
	Replicas   int    // desired
	NewReady   int    // ready pods of the new ReplicaSet, not terminating
	OldPods    int    // pods of any other ReplicaSet, terminating or not
	Other      int    // new pods that are terminating or not ready
	Generation bool   // the controller has seen the latest spec
	// Pods are every pod of the Deployment by name, draining ones included.
	Pods map[string]Pod
}

// Pod is what the harness needs of one pod.
type Pod struct {
	Ready, Terminating bool
	Restarts           int    // of its first container
	ContainerID        string // of its first container, "containerd://…"
	IP                 string
	Created            time.Time
}

// Done says the rollout is over in the sense the harness needs: every
// desired pod is new and ready, and no old pod is left, not even one still
// draining. `kubectl rollout status` returns before the old pods are gone.
func (s RolloutState) Done() bool {
	return s.Generation && s.NewHash != "" && s.NewReady == s.Replicas && s.OldPods == 0 && s.Other == 0
}

const revisionKey = "deployment.kubernetes.io/revision"

// observe computes the state from one consistent-enough view of the objects.
func observe(d *appsv1.Deployment, rss []*appsv1.ReplicaSet, pods []*corev1.Pod) RolloutState {
	var s RolloutState
	if d.Spec.Replicas != nil {
		s.Replicas = int(*d.Spec.Replicas)
	}
	s.Generation = d.Status.ObservedGeneration >= d.Generation
	s.Revision = d.Annotations[revisionKey]
	for _, rs := range rss {
		if rs.Annotations[revisionKey] == s.Revision {
			s.NewHash = rs.Labels["pod-template-hash"]
		}
	}
	s.Pods = map[string]Pod{}
	for _, p := range pods {
		ps := Pod{Ready: podReady(p), Terminating: p.DeletionTimestamp != nil, IP: p.Status.PodIP, Created: p.CreationTimestamp.Time}
		if cs := p.Status.ContainerStatuses; len(cs) > 0 {
			ps.Restarts, ps.ContainerID = int(cs[0].RestartCount), cs[0].ContainerID
		}
		s.Pods[p.Name] = ps
		switch {
		case p.Labels["pod-template-hash"] != s.NewHash:
			s.OldPods++
		case p.DeletionTimestamp == nil && podReady(p):
			s.NewReady++
		default:
			s.Other++
		}
	}
	return s
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// WaitRollout waits until the Deployment's rollout is Done, or timeout.
//
// It watches instead of polling: the harness measures latency while it
// waits, and polling with kubectl (three processes, each a TLS handshake
// with the apiserver, every half second) cost enough CPU on 2 cores to show
// up in the rollouts' p99. One connection and the apiserver's watch events
// cost next to nothing, and the state is re-read on every event.
func (k Kubectl) WaitRollout(ctx context.Context, ns, name, selector string, timeout time.Duration) (RolloutState, error) {
	return k.Wait(ctx, ns, name, selector, timeout, RolloutState.Done)
}

// Wait waits until done holds for the Deployment's state, or timeout. It
// watches as WaitRollout does.
func (k Kubectl) Wait(ctx context.Context, ns, name, selector string, timeout time.Duration, done func(RolloutState) bool) (RolloutState, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cs, err := k.clientset()
	if err != nil {
		return RolloutState{}, err
	}
	byName := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "metadata.name=" + name }))
	byLabel := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = selector }))
	deploys := byName.Apps().V1().Deployments()
	rss := byLabel.Apps().V1().ReplicaSets()
	pods := byLabel.Core().V1().Pods()

	changed := make(chan struct{}, 1)
	poke := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { poke() },
		UpdateFunc: func(any, any) { poke() },
		DeleteFunc: func(any) { poke() },
	}
	for _, inf := range []cache.SharedIndexInformer{deploys.Informer(), rss.Informer(), pods.Informer()} {
		if _, err := inf.AddEventHandler(handler); err != nil {
			return RolloutState{}, fmt.Errorf("watch: %w", err)
		}
	}
	stop := make(chan struct{})
	defer func() {
		close(stop)
		byName.Shutdown()
		byLabel.Shutdown()
	}()
	byName.Start(stop)
	byLabel.Start(stop)
	for _, f := range []informers.SharedInformerFactory{byName, byLabel} {
		for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
			if !ok {
				return RolloutState{}, fmt.Errorf("list %v in %s: %w", typ, ns, ctx.Err())
			}
		}
	}

	var last RolloutState
	for {
		d, err := deploys.Lister().Deployments(ns).Get(name)
		if err == nil {
			var rsList []*appsv1.ReplicaSet
			var podList []*corev1.Pod
			if rsList, err = rss.Lister().ReplicaSets(ns).List(labels.Everything()); err == nil {
				podList, err = pods.Lister().Pods(ns).List(labels.Everything())
			}
			if err == nil {
				last = observe(d, rsList, podList)
				if done(last) {
					return last, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("deployment %s/%s not in the state waited for within %v (last: %+v, err: %v): %w", ns, name, timeout, last, err, ctx.Err())
		case <-changed:
		}
	}
}

// ReadyEndpoints counts the ready endpoints in a Service's EndpointSlices.
func (k Kubectl) ReadyEndpoints(ctx context.Context, ns, service string) (int, error) {
	var slices list[struct {
		Endpoints []struct {
			Conditions struct {
				Ready *bool `json:"ready"`
			} `json:"conditions"`
		} `json:"endpoints"`
	}]
	if err := k.getJSON(ctx, &slices, "-n", ns, "get", "endpointslices", "-l", "kubernetes.io/service-name="+service); err != nil {
		return 0, err
	}
	n := 0
	for _, s := range slices.Items {
		for _, e := range s.Endpoints {
			if e.Conditions.Ready == nil || *e.Conditions.Ready {
				n++
			}
		}
	}
	return n, nil
}

// ClusterIP returns a Service's ClusterIP.
func (k Kubectl) ClusterIP(ctx context.Context, ns, service string) (string, error) {
	out, err := k.Run(ctx, "-n", ns, "get", "service", service, "-o", "jsonpath={.spec.clusterIP}")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

func (k Kubectl) clientset() (*kubernetes.Clientset, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", k.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return cs, nil
}

// Evict asks the Eviction API to evict a pod, as kubectl drain and the
// cluster autoscaler do. refused means the apiserver answered 429: the
// PodDisruptionBudget allows no disruption now, and the caller should try
// again later, as drain does.
func (k Kubectl) Evict(ctx context.Context, ns, pod string) (refused bool, err error) {
	cs, err := k.clientset()
	if err != nil {
		return false, err
	}
	err = cs.PolicyV1().Evictions(ns).Evict(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: pod, Namespace: ns}})
	switch {
	case apierrors.IsTooManyRequests(err):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("evict %s/%s: %w", ns, pod, err)
	}
	return false, nil
}
