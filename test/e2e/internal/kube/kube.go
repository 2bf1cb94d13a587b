// Package kube is the little of kubectl the e2e harness needs: apply, the
// rollout commands, and polls that decode only the fields they read. It
// shells out to kubectl instead of linking client-go so that the e2e module
// stays small and uses the same client a person would.
package kube

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Kubectl runs kubectl against one cluster.
type Kubectl struct {
	Kubeconfig string
}

// Run runs kubectl and returns its stdout.
func (k Kubectl) Run(ctx context.Context, args ...string) ([]byte, error) {
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", k.Kubeconfig}, args...)...)
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

type meta struct {
	Name              string            `json:"name"`
	Generation        int64             `json:"generation"`
	Labels            map[string]string `json:"labels"`
	Annotations       map[string]string `json:"annotations"`
	DeletionTimestamp *string           `json:"deletionTimestamp"`
}

type deployment struct {
	Metadata meta `json:"metadata"`
	Spec     struct {
		Replicas int `json:"replicas"`
	} `json:"spec"`
	Status struct {
		ObservedGeneration int64 `json:"observedGeneration"`
		Replicas           int   `json:"replicas"`
		UpdatedReplicas    int   `json:"updatedReplicas"`
		AvailableReplicas  int   `json:"availableReplicas"`
	} `json:"status"`
}

type list[T any] struct {
	Items []T `json:"items"`
}

type pod struct {
	Metadata meta `json:"metadata"`
	Status   struct {
		PodIP      string `json:"podIP"`
		Conditions []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
		} `json:"conditions"`
	} `json:"status"`
}

func (p pod) ready() bool {
	for _, c := range p.Status.Conditions {
		if c.Type == "Ready" {
			return c.Status == "True"
		}
	}
	return false
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
}

// Done says the rollout is over in the sense the harness needs: every
// desired pod is new and ready, and no old pod is left, not even one still
// draining. `kubectl rollout status` returns before the old pods are gone.
func (s RolloutState) Done() bool {
	return s.Generation && s.NewHash != "" && s.NewReady == s.Replicas && s.OldPods == 0 && s.Other == 0
}

// Observe reads the Deployment, its ReplicaSets and its pods once.
func (k Kubectl) Observe(ctx context.Context, ns, name, selector string) (RolloutState, error) {
	var s RolloutState
	var d deployment
	if err := k.getJSON(ctx, &d, "-n", ns, "get", "deployment", name); err != nil {
		return s, err
	}
	s.Replicas = d.Spec.Replicas
	s.Generation = d.Status.ObservedGeneration >= d.Metadata.Generation
	s.Revision = d.Metadata.Annotations["deployment.kubernetes.io/revision"]
	var rss list[struct {
		Metadata meta `json:"metadata"`
	}]
	if err := k.getJSON(ctx, &rss, "-n", ns, "get", "replicasets", "-l", selector); err != nil {
		return s, err
	}
	for _, rs := range rss.Items {
		if rs.Metadata.Annotations["deployment.kubernetes.io/revision"] == s.Revision {
			s.NewHash = rs.Metadata.Labels["pod-template-hash"]
		}
	}
	var pods list[pod]
	if err := k.getJSON(ctx, &pods, "-n", ns, "get", "pods", "-l", selector); err != nil {
		return s, err
	}
	for _, p := range pods.Items {
		switch {
		case p.Metadata.Labels["pod-template-hash"] != s.NewHash:
			s.OldPods++
		case p.Metadata.DeletionTimestamp == nil && p.ready():
			s.NewReady++
		default:
			s.Other++
		}
	}
	return s, nil
}

// WaitRollout polls until Observe reports Done, or timeout.
func (k Kubectl) WaitRollout(ctx context.Context, ns, name, selector string, timeout time.Duration) (RolloutState, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last RolloutState
	for {
		s, err := k.Observe(ctx, ns, name, selector)
		if err == nil {
			last = s
			if s.Done() {
				return s, nil
			}
		}
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("deployment %s/%s not rolled out within %v (last: %+v, err: %v): %w", ns, name, timeout, last, err, ctx.Err())
		case <-time.After(500 * time.Millisecond):
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
