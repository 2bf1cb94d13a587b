package e2e

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/zerodrop/zerodrop/example-service/client"
	"github.com/zerodrop/zerodrop/test/e2e/internal/cluster"
	"github.com/zerodrop/zerodrop/test/e2e/internal/kube"
	"github.com/zerodrop/zerodrop/test/e2e/internal/report"
)

// disruptions are the ways the harness takes pods away under load: the
// rollouts, and what a cluster does besides them (an HPA or a person
// scaling, a node drain evicting through the PodDisruptionBudget, a pod
// deleted, a process killed outright). Each waits until the Deployment is
// whole again, with no pod left draining, so that every phase is measured
// from one steady shape to the next.
type disruptions struct {
	c  *cluster.Cluster
	k  kube.Kubectl
	ns string
	// pods names every pod address the harness saw, for the report's
	// failures: an attempt's peer is an address.
	pods map[string]string
	// since is the load's clock, for the moments a phase records.
	since func() time.Duration
	// direct counts the generated client's attempts since a moment of that
	// clock, and returns the pods they went to, or nil if one went through
	// its ClusterIP fallback rather than straight to a pod.
	direct func(since time.Duration) (attempts int, pods map[string]bool)
}

// untilDirect waits, polling, until the generated client sends straight to
// the pods, and to more than one: for a second, at least 20 attempts, none
// through its ClusterIP fallback, to at least two pods. After the phases
// before it, CoreDNS's 30 s cache may still name only pods that are gone,
// and the client then sends everything through the fallback, whose
// connections kube-proxy put on whichever pods were ready when they
// connected; or it may name one pod that is left and others that are gone,
// and the client sends everything to that one. A partition in either window
// is a second failure on top of the first: runs 21 and 22 cut off the pod
// that held every fallback connection of one client, and neither hedges
// nor retries could leave it; run 36 cut off the only pod a stale answer
// had left the client, which the client has since learned to leave through
// its fallback (client's TestOnlyKnownPodGoesSilent). Issue 30's partition
// is one pod silent while DNS still names it and others, which this waits
// for. The edge's generated client,
// which relays to these pods, looks the name up on its own schedule, every
// client.DefaultResolveEvery: so the harness's client must have sent to two
// pods or more for that long and a second, by which time the edge's has
// seen the same answer. It returns how long it waited and to how many pods
// the client sent.
func (d disruptions) untilDirect(ctx context.Context) (time.Duration, int, error) {
	start := d.since()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	held := time.Duration(-1) // since when the client has sent to two pods or more
	for {
		now := d.since()
		n, pods := d.direct(now - time.Second)
		switch {
		case pods == nil || n < 20 || len(pods) < 2:
			held = -1
		case held < 0:
			held = now
		case now-held >= client.DefaultResolveEvery+time.Second:
			return now - start, len(pods), nil
		}
		select {
		case <-ctx.Done():
			return d.since() - start, len(pods), fmt.Errorf("a minute on, the generated client still sent through its ClusterIP fallback, or to one pod only (%d): %w", len(pods), ctx.Err())
		case <-tick.C:
		}
	}
}

// phaseTimeout bounds each phase.
const phaseTimeout = 4 * time.Minute

func (d disruptions) wait(ctx context.Context, done func(kube.RolloutState) bool) (kube.RolloutState, error) {
	return d.k.Wait(ctx, d.ns, "example-service", selector, phaseTimeout, func(s kube.RolloutState) bool {
		for name, p := range s.Pods {
			if p.IP != "" && d.pods != nil {
				d.pods[p.IP] = d.ns + "/" + name
			}
		}
		return done(s)
	})
}

// whole is a Deployment with every desired pod ready on the current
// revision and nothing terminating.
func whole(s kube.RolloutState) bool { return s.Done() && len(s.Pods) == s.Replicas }

// gone says that none of names is left, not even draining.
func gone(s kube.RolloutState, names []string) bool {
	for _, n := range names {
		if _, ok := s.Pods[n]; ok {
			return false
		}
	}
	return true
}

// serving returns the names of the ready pods that are not terminating.
func serving(s kube.RolloutState) []string {
	var names []string
	for _, n := range slices.Sorted(maps.Keys(s.Pods)) {
		if p := s.Pods[n]; p.Ready && !p.Terminating {
			names = append(names, n)
		}
	}
	return names
}

// rollout runs a command that starts a rollout and waits until no old pod
// is left.
func (d disruptions) rollout(start func(context.Context) error) func(context.Context, *report.Phase) error {
	return func(ctx context.Context, p *report.Phase) error {
		if err := start(ctx); err != nil {
			return err
		}
		st, err := d.wait(ctx, kube.RolloutState.Done)
		p.Note = "revision " + st.Revision
		return err
	}
}

// scale sets the replica count, as an HPA does, and waits until exactly n
// pods are left, all ready.
func (d disruptions) scale(n int) func(context.Context, *report.Phase) error {
	return func(ctx context.Context, p *report.Phase) error {
		before, err := d.wait(ctx, whole)
		if err != nil {
			return err
		}
		if _, err := d.k.Run(ctx, "-n", d.ns, "scale", "deployment/example-service", fmt.Sprintf("--replicas=%d", n)); err != nil {
			return err
		}
		_, err = d.wait(ctx, func(s kube.RolloutState) bool { return whole(s) && s.Replicas == n })
		p.Note = fmt.Sprintf("%d → %d replicas", before.Replicas, n)
		return err
	}
}

// evictEach evicts every pod in turn through the Eviction API, as kubectl
// drain does: an eviction the PodDisruptionBudget refuses (429) is asked
// again once a pod has become ready in its place. The next eviction is
// asked at once after one is accepted, while the replacement is not ready
// yet, so that the budget must refuse it: that shows the PDB in force.
func (d disruptions) evictEach(ctx context.Context, p *report.Phase) error {
	ctx, cancel := context.WithTimeout(ctx, phaseTimeout)
	defer cancel()
	st, err := d.wait(ctx, whole)
	if err != nil {
		return err
	}
	ev := &report.Evictions{}
	p.Evictions = ev
	defer func() {
		p.Note = fmt.Sprintf("%d evictions accepted; %d refused with 429 by the PodDisruptionBudget and asked again", ev.Accepted, ev.Refused)
	}()
	pods := serving(st)
	for _, name := range pods {
		for refusedInARow := 0; ; {
			refused, err := d.k.Evict(ctx, d.ns, name)
			if err != nil {
				return err
			}
			if !refused {
				ev.Accepted++
				break
			}
			ev.Refused++
			refusedInARow++
			// Ask again once the budget can allow it: every desired pod
			// ready. The disruption controller updates the budget's status a
			// moment after that, so a second refusal in a row waits a little
			// too, as drain's retry interval (5 s) does.
			if _, err := d.wait(ctx, func(s kube.RolloutState) bool { return s.NewReady >= s.Replicas }); err != nil {
				return err
			}
			if refusedInARow > 1 {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(500 * time.Millisecond):
				}
			}
		}
	}
	_, err = d.wait(ctx, func(s kube.RolloutState) bool { return whole(s) && gone(s, pods) })
	return err
}

// deleteEach deletes every pod in turn with the default grace period, as a
// person or a controller would, waiting for a replacement to be ready
// before the next.
func (d disruptions) deleteEach(ctx context.Context, p *report.Phase) error {
	st, err := d.wait(ctx, whole)
	if err != nil {
		return err
	}
	pods := serving(st)
	for _, name := range pods {
		if _, err := d.k.Run(ctx, "-n", d.ns, "delete", "pod", name, "--wait=false"); err != nil {
			return err
		}
		if _, err := d.wait(ctx, func(s kube.RolloutState) bool {
			ps, ok := s.Pods[name]
			return (!ok || ps.Terminating) && s.NewReady >= s.Replicas
		}); err != nil {
			return err
		}
	}
	p.Note = fmt.Sprintf("deleted %d pods one after another", len(pods))
	_, err = d.wait(ctx, func(s kube.RolloutState) bool { return whole(s) && gone(s, pods) })
	return err
}

// whole waits until the Deployment is whole and returns its serving pods
// by name.
func (d disruptions) wholeServing(ctx context.Context) (kube.RolloutState, []string, error) {
	st, err := d.wait(ctx, whole)
	if err != nil {
		return st, nil, err
	}
	pods := serving(st)
	if len(pods) == 0 {
		return st, nil, fmt.Errorf("no serving pod")
	}
	return st, pods, nil
}

// busiest is the serving pod most likely to hold the load's long-lived
// connections (keep-alive pools, h2c, the plain gRPC client, the
// ingress's): the oldest that was never restarted. A pod's drain moves its
// connections to the pods ready at that moment and nothing moves them back,
// so the oldest pod has gathered the most, and a pod that was killed has
// lost all of its own.
func busiest(st kube.RolloutState, pods []string) string {
	best := pods[0]
	for _, n := range pods[1:] {
		p, b := st.Pods[n], st.Pods[best]
		if never, bestNever := p.Restarts == 0, b.Restarts == 0; never != bestNever {
			if never {
				best = n
			}
			continue
		}
		if p.Created.Before(b.Created) {
			best = n
		}
	}
	return best
}

// killOne SIGKILLs one pod's container, and waits until the kubelet has
// restarted it and it is ready again.
func (d disruptions) killOne(ctx context.Context, p *report.Phase) error {
	st, pods, err := d.wholeServing(ctx)
	if err != nil {
		return err
	}
	victim := pods[0]
	before := st.Pods[victim]
	p.HardStop = &report.HardStop{Pod: victim, From: d.since()}
	if err := d.c.KillContainer(ctx, before.ContainerID); err != nil {
		return err
	}
	p.HardStop.To = d.since()
	after, err := d.wait(ctx, func(s kube.RolloutState) bool { return whole(s) && s.Pods[victim].Restarts > before.Restarts })
	p.Note = fmt.Sprintf("SIGKILL to the container of %s; the kubelet restarted it (restarts %d → %d)", victim, before.Restarts, after.Pods[victim].Restarts)
	return err
}

// partitionOne cuts the busiest serving pod off the network without
// stopping it (cluster.CutOff), keeps it cut until the readiness probe has
// taken it out of the endpoints, then restores it and waits until it is
// ready again and the Deployment whole. No other phase makes this failure: a pod that
// answers nothing, refuses nothing and closes nothing, as when its node or
// its link is lost, which only timeouts, probes and keepalives can notice.
// The liveness probe needs three failures 10 s apart, so the cut, about
// 5 s, ends long before it could restart the container.
func (d disruptions) partitionOne(ctx context.Context, p *report.Phase) (err error) {
	st, pods, err := d.wholeServing(ctx)
	if err != nil {
		return err
	}
	waited, direct, err := d.untilDirect(ctx)
	if err != nil {
		return err
	}
	victim := busiest(st, pods)
	before := st.Pods[victim]
	part := &report.Partition{Pod: victim, IP: before.IP}
	p.Partition = part
	p.HardStop = &report.HardStop{Pod: victim, From: d.since()}
	cut, err := d.c.CutOff(ctx, before.ContainerID)
	if err != nil {
		return err
	}
	part.Cut = d.since()
	// The restore runs on every path, and on its own context, so that an
	// error, a timeout or an interrupted run never leaves the pod cut.
	restored := false
	restore := func() error {
		restored = true
		rctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		return cut.Restore(rctx)
	}
	defer func() {
		if !restored {
			err = errors.Join(err, restore())
		}
	}()
	if _, err := d.wait(ctx, func(s kube.RolloutState) bool { return !s.Pods[victim].Ready }); err != nil {
		return fmt.Errorf("wait for the readiness probe to take %s out: %w", victim, err)
	}
	part.Unready = d.since()
	if err := restore(); err != nil {
		return err
	}
	part.Restored = d.since()
	p.HardStop.To = part.Restored
	after, err := d.wait(ctx, func(s kube.RolloutState) bool { return whole(s) && s.Pods[victim].Ready })
	part.Ready = d.since()
	p.Note = fmt.Sprintf("%s (%s) cut off the network, once the generated client sent straight to the pods, to %d of them (after %.1f s); the readiness probe took it out %.1f s after the cut; restored %.1f s after the cut, ready again %.1f s after",
		victim, before.IP, direct, waited.Seconds(), (part.Unready - part.Cut).Seconds(), (part.Restored - part.Cut).Seconds(), (part.Ready - part.Cut).Seconds())
	if n := after.Pods[victim].Restarts; n != before.Restarts {
		p.Note += fmt.Sprintf("; its container was restarted meanwhile (restarts %d → %d)", before.Restarts, n)
	}
	return err
}

// staleDNS asks CoreDNS for the headless Service, as the clients do, and
// counts the addresses in its answer and those of no serving pod: what its
// cache hides from a client that only has DNS.
func (d disruptions) staleDNS(ctx context.Context) (answer, stale int, err error) {
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "udp", cluster.DNSServer)
	}}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ips, err := r.LookupHost(ctx, "example-service-headless."+d.ns+".svc.cluster.local.")
	if err != nil {
		return 0, 0, fmt.Errorf("look up the headless Service: %w", err)
	}
	st, err := d.wait(ctx, func(kube.RolloutState) bool { return true })
	if err != nil {
		return 0, 0, err
	}
	live := map[string]bool{}
	for _, p := range st.Pods {
		if p.Ready && !p.Terminating {
			live[p.IP] = true
		}
	}
	for _, ip := range ips {
		if !live[ip] {
			stale++
		}
	}
	return len(ips), stale, nil
}

// TestBusiest: the partition takes the oldest pod that was never
// restarted, whatever the names, and the oldest of all if every one was.
func TestBusiest(t *testing.T) {
	t0 := time.Now()
	st := kube.RolloutState{Pods: map[string]kube.Pod{
		"a": {Created: t0, Restarts: 1}, // the oldest, but killed
		"b": {Created: t0.Add(2 * time.Second)},
		"c": {Created: t0.Add(time.Second)},
	}}
	if got := busiest(st, []string{"a", "b", "c"}); got != "c" {
		t.Errorf("busiest %q, want c: the oldest never restarted", got)
	}
	st.Pods["b"], st.Pods["c"] = kube.Pod{Created: t0.Add(2 * time.Second), Restarts: 1}, kube.Pod{Created: t0.Add(time.Second), Restarts: 2}
	if got := busiest(st, []string{"a", "b", "c"}); got != "a" {
		t.Errorf("busiest %q, want a: every pod restarted, and a is the oldest", got)
	}
}
