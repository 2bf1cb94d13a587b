// Package cluster drives the shell scripts in test/e2e/cluster from Go: it
// installs the Debian packages, builds (or reuses) the kbin binary, brings a
// single-node Kubernetes up under a directory of its own and tears it down.
// The scripts do the host plumbing (daemons, bridge, iptables, cgroups)
// because that is a sequence of commands; Go does the timing, logging and
// cleanup registration.
package cluster

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Cluster is a running cluster.
type Cluster struct {
	Dir        string // everything the cluster writes, except paths hard-coded by containerd and CNI
	Kbin       string // the multi-call Kubernetes binary
	Kubeconfig string // admin kubeconfig
	scripts    string
	log        io.Writer
}

// Scripts is the directory holding up.sh, down.sh and friends, relative to
// the e2e module (go test runs in the package directory).
func Scripts() (string, error) {
	p, err := filepath.Abs("cluster")
	if err != nil {
		return "", fmt.Errorf("scripts dir: %w", err)
	}
	return p, nil
}

// run runs a script with its output copied to log, and returns its stdout.
func run(ctx context.Context, log io.Writer, script string, args ...string) (string, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, script, args...)
	cmd.Stdout = io.MultiWriter(&out, log)
	cmd.Stderr = log
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w", filepath.Base(script), strings.Join(args, " "), err)
	}
	return out.String(), nil
}

// InstallDeps installs the Debian packages, if any is missing.
func InstallDeps(ctx context.Context, scripts string, log io.Writer) error {
	_, err := run(ctx, log, filepath.Join(scripts, "install-deps.sh"))
	return err
}

// BuildKbin returns the path of kbin, building it first if the cache has
// none for this Kubernetes version, Go version and build script.
func BuildKbin(ctx context.Context, scripts string, log io.Writer) (string, error) {
	return cachedBinary(ctx, scripts, "build-kbin.sh", log)
}

// BuildCoreDNS returns the path of the CoreDNS binary, building it first if
// the cache has none for this CoreDNS version, Go version and build script.
func BuildCoreDNS(ctx context.Context, scripts string, log io.Writer) (string, error) {
	return cachedBinary(ctx, scripts, "build-coredns.sh", log)
}

// BuildTraefik returns the path of the Traefik binary, building it first if
// the cache has none for this Traefik version, Go version and build script.
func BuildTraefik(ctx context.Context, scripts string, log io.Writer) (string, error) {
	return cachedBinary(ctx, scripts, "build-traefik.sh", log)
}

// cachedBinary runs a build script that prints the binary's path last.
func cachedBinary(ctx context.Context, scripts, script string, log io.Writer) (string, error) {
	out, err := run(ctx, log, filepath.Join(scripts, script))
	if err != nil {
		return "", err
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1], nil
}

// NodeIP is the node's address (env.sh's NODE_IP), on the host's
// loopback: pods reach the host there, as they reach the API server.
const NodeIP = "10.219.0.1"

// DNSServer is where Up's CoreDNS answers for cluster.local.
const DNSServer = "127.0.0.1:10053"

// IngressAddr is where Up's Traefik serves HTTPS for the Ingresses of class
// IngressClass. GatewayAddr is where it serves a Gateway of class
// GatewayClass with a listener on GatewayPort.
const (
	IngressAddr  = "127.0.0.1:8443"
	IngressClass = "traefik"
	GatewayAddr  = "127.0.0.1:8444"
	GatewayPort  = 8444
	GatewayClass = "traefik"
)

// Reset tears down a cluster that an earlier, interrupted run left in dir,
// so that a run always starts from a clean host.
func Reset(ctx context.Context, scripts, dir, kbin string, log io.Writer) error {
	if _, err := os.Stat(dir); err != nil {
		return nil
	}
	c := &Cluster{Dir: dir, Kbin: kbin, scripts: scripts, log: log}
	if err := c.Down(ctx); err != nil {
		return fmt.Errorf("tear down the cluster left in %s: %w", dir, err)
	}
	return nil
}

// Up starts a cluster under dir. The image tarballs must already be in
// dir/images; call Reset before writing them. CoreDNS answers for
// cluster.local on DNSServer (and on NodeIP, for pods), and Traefik serves
// Ingresses on IngressAddr. gatewayCRDs is a directory of the Gateway API's
// CRDs: they are installed before Traefik starts, which then also serves
// the Gateways of class GatewayClass.
func Up(ctx context.Context, scripts, dir, kbin, coredns, traefik, gatewayCRDs string, log io.Writer) (*Cluster, error) {
	c := &Cluster{Dir: dir, Kbin: kbin, Kubeconfig: filepath.Join(dir, "kubeconfig"), scripts: scripts, log: log}
	args := []string{dir, kbin, coredns, traefik, gatewayCRDs}
	if _, err := run(ctx, log, filepath.Join(scripts, "up.sh"), args...); err != nil {
		return c, err
	}
	return c, nil
}

// ImagesDir is where Up imports image tarballs from.
func ImagesDir(dir string) string { return filepath.Join(dir, "images") }

// Down stops every process of the cluster and removes what it left on the
// host. It runs with its own timeout so that it still works when ctx is done.
func (c *Cluster) Down(context.Context) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, err := run(ctx, c.log, filepath.Join(c.scripts, "down.sh"), c.Dir, c.Kbin)
	return err
}

// FlushConntrack deletes conntrack entries to the Service CIDR. Entries left
// by an earlier load run keep their DNAT to pods that are gone for up to
// 120 s, and a reused source port then times out.
func FlushConntrack(ctx context.Context) {
	// conntrack exits 1 when nothing matched; that is not an error here.
	_ = exec.CommandContext(ctx, "conntrack", "-D", "-d", "10.218.0.0", "--mask-dst", "255.255.255.0").Run()
}

// KillContainer sends SIGKILL to a container's process through containerd,
// the way the OOM killer or a crashed node ends one: no SIGTERM, no drain,
// and its connections die with it. containerID is a pod status's
// "containerd://…" ID. The kubelet then restarts the container. ctr runs at
// nice 10, as kubectl does (kube.Kubectl.Run), so that the harness's own
// commands do not take the CPU from the load it measures.
func (c *Cluster) KillContainer(ctx context.Context, containerID string) error {
	id, ok := strings.CutPrefix(containerID, "containerd://")
	if !ok || id == "" {
		return fmt.Errorf("kill: %q is not a containerd container ID", containerID)
	}
	out, err := exec.CommandContext(ctx, "nice", "-n", "10", "ctr", "--address", c.sock(), "-n", "k8s.io", "tasks", "kill", "--signal", "SIGKILL", id).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ctr tasks kill %s: %w: %s", id, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Partition is a pod cut off the network by rules in its own network
// namespace. The namespace is held open from the cut on, so that Restore
// reaches it even if the container was restarted in between.
type Partition struct {
	netns *os.File
}

// partitionComment marks the harness's rules, so that they read as its own
// to anyone who lists the pod's rules.
const partitionComment = "zerodrop-e2e partition"

// partitionRules drop every packet into and out of the pod but its own
// loopback's. They sit in the pod's namespace, not the host's: a DROP in the
// host's OUTPUT chain fails a local sender's write with EPERM at once, and
// every client, the kubelet's probes and the ingress controller are on the
// host, so the cut would be loud. Dropped in the pod, a SYN goes unanswered,
// a request on an open connection gets no reply, and nothing is refused or
// reset: the pod is silent, as when its node or its link goes away.
func partitionRules(op string) string {
	return "*filter\n" +
		op + " INPUT ! -i lo -m comment --comment \"" + partitionComment + "\" -j DROP\n" +
		op + " OUTPUT ! -o lo -m comment --comment \"" + partitionComment + "\" -j DROP\n" +
		"COMMIT\n"
}

// CutOff cuts a container's pod off the network without stopping it, both
// rules at once (iptables-restore applies them in one transaction).
// containerID is a pod status's "containerd://…" ID. When CutOff returns
// without error the pod is silent.
func (c *Cluster) CutOff(ctx context.Context, containerID string) (*Partition, error) {
	pid, err := c.taskPID(ctx, containerID)
	if err != nil {
		return nil, err
	}
	ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return nil, fmt.Errorf("cut off %s: %w", containerID, err)
	}
	p := &Partition{netns: ns}
	if err := p.apply(ctx, "-I"); err != nil {
		ns.Close()
		return nil, fmt.Errorf("cut off %s: %w", containerID, err)
	}
	return p, nil
}

// Restore deletes exactly the rules CutOff added, and lets go of the
// namespace.
func (p *Partition) Restore(ctx context.Context) error {
	err := p.apply(ctx, "-D")
	if cerr := p.netns.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("restore a cut pod: %w", err)
	}
	return nil
}

// apply runs iptables-restore in the pod's namespace, which nsenter enters
// through the descriptor the harness holds (the child's fd 3).
func (p *Partition) apply(ctx context.Context, op string) error {
	cmd := exec.CommandContext(ctx, "nsenter", "--net=/proc/self/fd/3", "iptables-restore", "--noflush")
	cmd.ExtraFiles = []*os.File{p.netns}
	cmd.Stdin = strings.NewReader(partitionRules(op))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("iptables-restore %s in the pod's network namespace: %w: %s", op, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// taskPID returns the PID of a container's task through containerd.
func (c *Cluster) taskPID(ctx context.Context, containerID string) (int, error) {
	id, ok := strings.CutPrefix(containerID, "containerd://")
	if !ok || id == "" {
		return 0, fmt.Errorf("%q is not a containerd container ID", containerID)
	}
	out, err := exec.CommandContext(ctx, "nice", "-n", "10", "ctr", "--address", c.sock(), "-n", "k8s.io", "tasks", "ls").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("ctr tasks ls: %w: %s", err, strings.TrimSpace(string(out)))
	}
	// TASK PID STATUS, one line per task.
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == id && f[2] == "RUNNING" {
			pid, err := strconv.Atoi(f[1])
			if err != nil || pid <= 0 {
				return 0, fmt.Errorf("ctr tasks ls: task %s has PID %q", id, f[1])
			}
			return pid, nil
		}
	}
	return 0, fmt.Errorf("ctr tasks ls: no running task %s", id)
}

func (c *Cluster) sock() string { return filepath.Join(c.Dir, "containerd", "containerd.sock") }
