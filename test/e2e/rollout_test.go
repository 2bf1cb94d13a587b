package e2e

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/zerodrop/zerodrop/test/e2e/internal/certs"
	"github.com/zerodrop/zerodrop/test/e2e/internal/cluster"
	"github.com/zerodrop/zerodrop/test/e2e/internal/kube"
	"github.com/zerodrop/zerodrop/test/e2e/internal/load"
	"github.com/zerodrop/zerodrop/test/e2e/internal/ociimage"
	"github.com/zerodrop/zerodrop/test/e2e/internal/report"
)

const (
	imageA   = "zerodrop.local/example-service:e2e-a"
	imageB   = "zerodrop.local/example-service:e2e-b"
	selector = "app.kubernetes.io/name=example-service,app.kubernetes.io/instance=example-service"
	// version0 is the overlays' SERVICE_VERSION; version1 is what the
	// harness rolls out through the ConfigMap generator.
	version0 = "0.1.0"
	version1 = "0.2.0"
	// steadyFor is the load before the first rollout and again after the
	// last one: the baseline p99 is taken from both, so one noisy stretch
	// of the shared machine weighs less, and a service that comes out of six
	// rollouts slower than it went in shows.
	steadyFor = 20 * time.Second
	// settle keeps a phase open after its last old pod is gone, so that the
	// version clients see at the end of a phase is measured on new pods only.
	settle = 2 * time.Second
	// ingressHost and ingressSecret are the prod overlay's Ingress host and
	// TLS Secret; the harness issues the certificate (there is no
	// cert-manager here) and sends by that name to Traefik.
	ingressHost   = "example-service.example.com"
	ingressSecret = "example-service-tls"
	// minRequests is the least load a passing prod-like run must have
	// carried; 365/s over the eleven disruptions is about 115,000.
	minRequests = 50_000
)

// loadFor is the load on one Service, 365 requests and calls a second in
// all, and four Watch streams: on 2 cores that leaves room for the pods, the
// control plane, Traefik and the surge pod of a rollout. (At 425/s the p99
// across the disruptions came to 1.8-2.3x the steady p99, against 1.2-1.4x
// at 350/s before the streams and HTTP/2 clients.)
func loadFor(clusterIP, namespace string, roots *x509.CertPool) []load.Client {
	url := "http://" + clusterIP + "/"
	ingress := "https://" + ingressHost + "/"
	via := "through the Ingress (Traefik, TLS)"
	grpcTarget := clusterIP + ":9090"
	headless := "dns://" + cluster.DNSServer + "/example-service-headless." + namespace + ".svc.cluster.local.:9090"
	// What client.NewInCluster's fallback, the ClusterIP Service's name,
	// resolves to; the harness's host has no cluster DNS of its own.
	fallback := "passthrough:///" + grpcTarget
	return []load.Client{
		load.HTTPClient{Name: "http-newconn-a", URL: url, Rate: 40, Timeout: 2 * time.Second, MaxInFlight: 100},
		load.HTTPClient{Name: "http-newconn-b", URL: url, Rate: 40, Timeout: 2 * time.Second, MaxInFlight: 100},
		load.HTTPClient{Name: "http-keepalive-8", URL: url, Rate: 50, KeepAlive: true, Conns: 8, Timeout: 2 * time.Second, MaxInFlight: 100},
		load.HTTPClient{Name: "http-keepalive-2", URL: url, Rate: 25, KeepAlive: true, Conns: 2, Timeout: 2 * time.Second, MaxInFlight: 50},
		load.HTTPClient{Name: "ingress-newconn", URL: ingress, Addr: cluster.IngressAddr, RootCAs: roots, Via: via,
			Rate: 40, Timeout: 2 * time.Second, MaxInFlight: 100},
		load.HTTPClient{Name: "ingress-keepalive-4", URL: ingress, Addr: cluster.IngressAddr, RootCAs: roots, Via: via,
			Rate: 25, KeepAlive: true, Conns: 4, Timeout: 2 * time.Second, MaxInFlight: 50},
		load.HTTPClient{Name: "h2c-clusterip-1", URL: url, HTTP2: true, Conns: 1, Rate: 15, Timeout: 2 * time.Second, MaxInFlight: 50},
		load.HTTPClient{Name: "ingress-h2-1", URL: ingress, Addr: cluster.IngressAddr, RootCAs: roots, Via: via,
			HTTP2: true, Conns: 1, Rate: 15, Timeout: 2 * time.Second, MaxInFlight: 50},
		load.GRPCClient{Name: "grpc-plain-clusterip", Target: grpcTarget, Rate: 50, Conns: 4, Timeout: 2 * time.Second, MaxInFlight: 100},
		load.GRPCClient{Name: "grpc-headless-rr", Target: headless, Rate: 50, Conns: 2, Timeout: 2 * time.Second, MaxInFlight: 100,
			Dial: load.HeadlessDial(fallback), Retries: true,
			Mode: "SayHello through example-service/client on the headless Service via CoreDNS (30 s cache), the ClusterIP as fallback: round_robin, health checks, 4 attempts for idempotent calls; 2 clients"},
		load.GRPCClient{Name: "grpc-count-rr", Target: headless, Rate: 15, Conns: 1, Timeout: 2 * time.Second, MaxInFlight: 50,
			Dial: load.HeadlessDial(fallback), Count: true, Mode: "Count (side effects: never retried) through example-service/client on the headless Service, the ClusterIP as fallback"},
		load.StreamClient{Name: "watch-follow", Target: headless, Fallback: fallback, Streams: 4, Interval: 250 * time.Millisecond},
	}
}

// scenario is one overlay of deploy/kustomize run through every rollout.
type scenario struct {
	name, overlay, namespace string
	// wantFailures: the naive overlay must fail requests, or the harness
	// could not tell a broken Deployment from a good one.
	wantFailures bool
}

var scenarios = []scenario{
	{name: "prod-like", overlay: "deploy/kustomize/prod-like", namespace: "example-service"},
	{name: "naive", overlay: "deploy/kustomize/naive", namespace: "example-service-naive", wantFailures: true},
}

func TestRollingUpdates(t *testing.T) {
	if os.Getenv("ZERODROP_E2E") != "1" {
		t.Skip("set ZERODROP_E2E=1 or run `make e2e`: it needs root and brings up a Kubernetes node on this machine")
	}
	if os.Geteuid() != 0 {
		t.Fatal("the e2e cluster needs root (containerd, iptables, cgroups)")
	}
	ctx := t.Context()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	stamp := time.Now().UTC().Format("20060102T150405Z")
	runDir := filepath.Join("results", "tmp-"+stamp)
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(runDir, "cluster.log"))
	if err != nil {
		t.Fatal(err)
	}
	// Registered first, so it runs after the teardown that still logs.
	t.Cleanup(func() { logFile.Close() })
	logw := io.MultiWriter(os.Stderr, logFile)

	run := &report.Run{StartedAt: time.Now(), Kubernetes: "v1.33.13", Go: runtime.Version(), Timings: map[string]float64{}}
	run.Host, _ = os.Hostname()
	timed := func(name string, f func() error) {
		t.Helper()
		start := time.Now()
		err := f()
		run.Timings[name] = time.Since(start).Seconds()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}

	scripts, err := cluster.Scripts()
	if err != nil {
		t.Fatal(err)
	}
	timed("install Debian packages", func() error { return cluster.InstallDeps(ctx, scripts, logw) })
	var kbin string
	timed("build or reuse kbin", func() (err error) { kbin, err = cluster.BuildKbin(ctx, scripts, logw); return err })
	var coredns string
	timed("build or reuse CoreDNS", func() (err error) { coredns, err = cluster.BuildCoreDNS(ctx, scripts, logw); return err })
	var traefik string
	timed("build or reuse Traefik", func() (err error) { traefik, err = cluster.BuildTraefik(ctx, scripts, logw); return err })
	tlsPair, err := certs.Issue(ingressHost)
	if err != nil {
		t.Fatal(err)
	}

	dir := os.Getenv("ZERODROP_E2E_DIR")
	if dir == "" {
		dir = "/tmp/zerodrop-e2e"
	}
	timed("tear down a leftover cluster", func() error { return cluster.Reset(ctx, scripts, dir, kbin, logw) })
	bin := t.TempDir()
	timed("build images", func() error { return buildImages(ctx, repo, bin, dir) })

	var c *cluster.Cluster
	timed("cluster up", func() (err error) {
		c, err = cluster.Up(ctx, scripts, dir, kbin, coredns, traefik, logw)
		if c != nil {
			t.Cleanup(func() {
				if err := c.Down(ctx); err != nil {
					t.Errorf("tear down: %v", err)
				}
			})
		}
		return err
	})
	k := kube.Kubectl{Kubeconfig: c.Kubeconfig}

	defer func() {
		run.Passed = !t.Failed()
		if err := report.Write(runDir, run); err != nil {
			t.Errorf("report: %v", err)
		}
		if err := report.Write(filepath.Join("results", "latest"), run); err != nil {
			t.Errorf("report: %v", err)
		}
		t.Logf("report: %s/run.md", runDir)
	}()
	for _, sc := range scenarios {
		start := time.Now()
		rep, err := runScenario(ctx, t, c, k, repo, sc, runDir, tlsPair, filepath.Join(bin, "scaffold"))
		run.Timings["scenario "+sc.name] = time.Since(start).Seconds()
		if rep != nil {
			run.Scenarios = append(run.Scenarios, rep)
			t.Logf("%s: %d requests, %d failed, p99 steady %.1f ms, rollouts %.1f ms",
				sc.name, rep.Requests, rep.Failed, rep.SteadyP99, rep.RolloutP99)
			for _, p := range rep.Problems {
				t.Errorf("%s: %s", sc.name, p)
			}
		}
		if err != nil {
			t.Fatalf("%s: %v", sc.name, err)
		}
	}
}

// buildImages builds example-service and pause as static binaries and
// writes their images into the cluster's image directory, where up.sh
// imports them. example-service gets two tags so that `kubectl set image`
// has somewhere to go. scaffold is built into bin too, to lint the overlays.
func buildImages(ctx context.Context, repo, bin, dir string) error {
	images := cluster.ImagesDir(dir)
	for _, d := range []string{bin, images} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("mkdir: %w", err)
		}
	}
	builds := []struct{ dir, pkg, out string }{
		{repo, "./cmd/scaffold", filepath.Join(bin, "scaffold")},
		{filepath.Join(repo, "example-service"), "./cmd/example-service", filepath.Join(bin, "example-service")},
		{".", "./cmd/pause", filepath.Join(bin, "pause")},
	}
	for _, b := range builds {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", b.out, b.pkg)
		cmd.Dir = b.dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w\n%s", b.pkg, err, out)
		}
	}
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	specs := []struct {
		file string
		spec ociimage.Spec
	}{
		{"pause.tar", ociimage.Spec{Ref: "zerodrop.local/pause:e2e", Binary: filepath.Join(bin, "pause"), Entrypoint: "/pause", User: "65535:65535", Created: created}},
		{"example-service-a.tar", ociimage.Spec{Ref: imageA, Binary: filepath.Join(bin, "example-service"), Entrypoint: "/example-service", User: "65532:65532", Created: created}},
		{"example-service-b.tar", ociimage.Spec{Ref: imageB, Binary: filepath.Join(bin, "example-service"), Entrypoint: "/example-service", User: "65532:65532", Created: created}},
	}
	for _, s := range specs {
		if err := ociimage.Write(filepath.Join(images, s.file), s.spec); err != nil {
			return err
		}
	}
	return nil
}

// step is one phase of disruption: a rollout, started by a command and over
// when no old pod is left, or one of the other ways a cluster takes pods
// away. run does it and waits until it is over, and may note in its phase
// what it did.
type step struct {
	name, kind string
	to         string // version clients must see at the end
	run        func(ctx context.Context, p *report.Phase) error
}

func runScenario(ctx context.Context, t *testing.T, c *cluster.Cluster, k kube.Kubectl, repo string, sc scenario, runDir string, tlsPair *certs.Pair, scaffold string) (*report.Scenario, error) {
	t.Logf("%s: applying %s", sc.name, sc.overlay)
	tree, err := copyManifests(repo, t.TempDir())
	if err != nil {
		return nil, err
	}
	overlay := filepath.Join(tree, sc.overlay)
	lintRep, err := lintOverlay(ctx, scaffold, overlay)
	if err != nil {
		return nil, err
	}
	// A server-side dry run of namespaced objects needs their namespace.
	if _, err := k.Run(ctx, "create", "namespace", sc.namespace); err != nil {
		return nil, err
	}
	if err := createTLSSecret(ctx, k, sc.namespace, tlsPair, t.TempDir()); err != nil {
		return nil, err
	}
	if _, err := k.Run(ctx, "apply", "--dry-run=server", "-k", overlay); err != nil {
		return nil, fmt.Errorf("server dry run: %w", err)
	}
	if _, err := k.Run(ctx, "apply", "-k", overlay); err != nil {
		return nil, err
	}
	defer func() {
		// Free the node for the next scenario; the pods drain as they would.
		if _, err := k.Run(context.Background(), "delete", "namespace", sc.namespace, "--wait", "--timeout=90s"); err != nil {
			t.Errorf("%s: %v", sc.name, err)
		}
	}()
	if _, err := k.WaitRollout(ctx, sc.namespace, "example-service", selector, 3*time.Minute); err != nil {
		return nil, err
	}
	ip, err := k.ClusterIP(ctx, sc.namespace, "example-service")
	if err != nil {
		return nil, err
	}
	if err := waitServing(ctx, k, sc.namespace, ip, tlsPair.Roots); err != nil {
		return nil, err
	}

	deploy := "deployment/example-service"
	kubectl := func(args ...string) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := k.Run(ctx, append([]string{"-n", sc.namespace}, args...)...)
			return err
		}
	}
	d := disruptions{c: c, k: k, ns: sc.namespace}
	steps := []step{
		{"rollout restart 1", "restart", version0, d.rollout(kubectl("rollout", "restart", deploy))},
		{"rollout restart 2", "restart", version0, d.rollout(kubectl("rollout", "restart", deploy))},
		{"rollout restart 3", "restart", version0, d.rollout(kubectl("rollout", "restart", deploy))},
		{"set image e2e-b", "set-image", version0, d.rollout(kubectl("set", "image", deploy, "example-service="+imageB))},
		{"version " + version1 + " via ConfigMap", "version", version1, d.rollout(func(ctx context.Context) error {
			if err := setVersion(overlay, version0, version1); err != nil {
				return err
			}
			_, err := k.Run(ctx, "apply", "-k", overlay)
			return err
		})},
		{"rollout undo", "undo", version0, d.rollout(kubectl("rollout", "undo", deploy))},
		{"scale 3 to 1", "scale-in", version0, d.scale(1)},
		{"scale 1 to 3", "scale-out", version0, d.scale(3)},
		{"evict each pod", "evict", version0, d.evictEach},
		{"delete each pod", "delete", version0, d.deleteEach},
		{"SIGKILL one pod", report.KillKind, version0, d.killOne},
	}

	clients := loadFor(ip, sc.namespace, tlsPair.Roots)
	rep := &report.Scenario{Name: sc.name, Overlay: sc.overlay, Target: sc.namespace + "/example-service " + ip + " (:80 http, :9090 grpc)", Expect: "no failures", Lint: lintRep}
	if sc.wantFailures {
		rep.Expect = "failures"
	}
	var maxRate int
	for _, c := range clients {
		rep.Clients = append(rep.Clients, c.Describe())
		maxRate += c.Describe().Rate
	}
	// Bounds: 12 minutes and as many requests as the rates allow in that
	// time; the scenario stops the load much earlier.
	const maxLoad = 12 * time.Minute
	loadCtx, stopLoad := context.WithCancel(ctx)
	rec, wait := load.Run(loadCtx, clients, maxLoad, maxRate*int(maxLoad/time.Second))
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			stopLoad()
			wait()
		}
	}
	defer stop()
	since := func() time.Duration { return time.Since(rec.Start()) }

	select {
	case <-time.After(steadyFor):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	rep.Phases = append(rep.Phases, report.Phase{Name: "steady", Kind: "steady", End: since(), FromVersion: version0, ToVersion: version0})
	cur := version0
	var stepErr error
	for _, s := range steps {
		p := report.Phase{Name: s.name, Kind: s.kind, Start: since(), FromVersion: cur, ToVersion: s.to}
		if stepErr = s.run(ctx, &p); stepErr == nil {
			p.DNSAnswer, p.DNSStale, stepErr = d.staleDNS(ctx)
			t.Logf("%s: %s done after %.1fs %s; CoreDNS answered %d addresses, %d stale", sc.name, s.name, (since() - p.Start).Seconds(), p.Note, p.DNSAnswer, p.DNSStale)
		}
		time.Sleep(settle)
		p.End = since()
		rep.Phases = append(rep.Phases, p)
		cur = s.to
		if stepErr != nil {
			stepErr = fmt.Errorf("%s: %w", s.name, stepErr)
			break
		}
	}
	if stepErr == nil {
		p := report.Phase{Name: "steady after", Kind: "steady", Start: since(), FromVersion: cur, ToVersion: cur}
		select {
		case <-time.After(steadyFor):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		p.End = since()
		rep.Phases = append(rep.Phases, p)
	}
	stop()
	rep.Duration = since()
	samples, events := rec.Samples(), rec.Events()
	report.Fill(rep, samples, events)
	if err := report.WriteSamples(filepath.Join(runDir, "samples-"+sc.name+".jsonl.gz"), samples); err != nil {
		return rep, err
	}
	if err := report.WriteSamples(filepath.Join(runDir, "streams-"+sc.name+".jsonl.gz"), events); err != nil {
		return rep, err
	}
	for _, d := range []string{runDir, filepath.Join("results", "latest")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return rep, fmt.Errorf("results: %w", err)
		}
		if err := report.Timeline(filepath.Join(d, "timeline-"+sc.name+".png"), rep, samples, events); err != nil {
			return rep, err
		}
	}
	rep.Problems = check(rep, sc.wantFailures)
	return rep, stepErr
}

// check returns what is wrong with a scenario's figures.
func check(rep *report.Scenario, wantFailures bool) []string {
	var problems []string
	switch {
	case wantFailures && rep.Failed == 0:
		problems = append(problems, fmt.Sprintf("expected failed requests, got 0 of %d: the harness cannot see the defect", rep.Requests))
	case !wantFailures && rep.Failed > 0:
		problems = append(problems, fmt.Sprintf("%d of %d requests failed", rep.Failed, rep.Requests))
	}
	// Zero failures means little on a thin sample: issue 6 asks for at
	// least minRequests across the rollouts of the overlay that must not fail.
	if !wantFailures && rep.Requests < minRequests {
		problems = append(problems, fmt.Sprintf("only %d requests, want at least %d", rep.Requests, minRequests))
	}
	// The linter must agree with the cluster before a pod starts.
	switch {
	case wantFailures && rep.Lint.Errors == 0:
		problems = append(problems, "scaffold lint found no error in an overlay that drops requests")
	case !wantFailures && rep.Lint.Errors > 0:
		problems = append(problems, fmt.Sprintf("scaffold lint found %d error(s): %s", rep.Lint.Errors, strings.Join(rep.Lint.ErrorRules(), ", ")))
	}
	// The latency target holds for the overlay that claims zero downtime:
	// a rollout that drops nothing but stalls requests is not free.
	if !wantFailures && rep.RolloutP99 > report.P99Factor*rep.SteadyP99 {
		problems = append(problems, fmt.Sprintf("p99 during rollouts %.1f ms is more than %g× the steady p99 %.1f ms",
			rep.RolloutP99, report.P99Factor, rep.SteadyP99))
	}
	problems = append(problems, checkDisruptions(rep, wantFailures)...)
	for _, p := range rep.Phases {
		if p.Requests == 0 {
			problems = append(problems, p.Name+": no requests")
			continue
		}
		for v := range p.VersionsSeen {
			if v != p.FromVersion && v != p.ToVersion {
				problems = append(problems, fmt.Sprintf("%s: clients saw version %q, expected only %s and %s", p.Name, v, p.FromVersion, p.ToVersion))
			}
		}
		for v := range p.FinalVersions {
			if v != p.ToVersion {
				problems = append(problems, fmt.Sprintf("%s: after the rollout clients still saw %q, expected %s", p.Name, v, p.ToVersion))
			}
		}
		if p.VersionsSeen[p.ToVersion] == 0 {
			problems = append(problems, fmt.Sprintf("%s: no client saw version %s", p.Name, p.ToVersion))
		}
	}
	return problems
}

// phaseLatency lists the phases whose p99 is more than P99Factor times the
// steady p99: issue 13 asks for each disruption within it, not only for
// their aggregate, since one slow kind of disruption hides in the sum of
// many fast ones. On this 2-core node it needs the control plane and
// containerd at a low CPU priority (cluster/up.sh, start_low), or their
// bursts when pods start take every client's p99 to 2.5-7×, and the
// client's quick reconnects (connectParams), or a killed pod holds calls
// for a second.
func phaseLatency(rep *report.Scenario) []string {
	var slow []string
	for _, p := range rep.Phases {
		if p.Kind != "steady" && p.P99ms > report.P99Factor*rep.SteadyP99 {
			slow = append(slow, fmt.Sprintf("%s: p99 %.1f ms is more than %g× the steady p99 %.1f ms", p.Name, p.P99ms, report.P99Factor, rep.SteadyP99))
		}
	}
	return slow
}

// dropKinds are the phases in which pods stop: the naive overlay must fail
// requests in each of them, or the harness could not tell.
var dropKinds = map[string]bool{"restart": true, "set-image": true, "version": true, "undo": true, "scale-in": true, "evict": true, "delete": true}

// checkDisruptions returns what is wrong with the figures issue 13 adds:
// each phase's latency, the streams, the HTTP/2 client's moves and the
// evictions.
func checkDisruptions(rep *report.Scenario, wantFailures bool) []string {
	var problems []string
	if wantFailures {
		for _, p := range rep.Phases {
			if dropKinds[p.Kind] && p.Failed+p.Expected == 0 {
				problems = append(problems, fmt.Sprintf("%s: the naive overlay failed no request: the harness cannot see the defect here", p.Name))
			}
		}
		return problems
	}
	problems = append(problems, phaseLatency(rep)...)
	for _, p := range rep.Phases {
		if p.Kind == "evict" && (p.Evictions == nil || p.Evictions.Refused == 0) {
			problems = append(problems, p.Name+": the PodDisruptionBudget refused no eviction, so it was not shown to be in force")
		}
	}
	// CoreDNS caches like a stock cluster's: the proof must have met the
	// stale answers that the generated client's fallback is there for.
	stale := 0
	for _, p := range rep.Phases {
		stale += p.DNSStale
	}
	if stale == 0 {
		problems = append(problems, "CoreDNS never answered with an address of a pod that was gone: the DNS cache was not put to the test")
	}
	st := rep.Streams
	switch {
	case st.Gaps > 0:
		problems = append(problems, fmt.Sprintf("Watch streams lost %d events", st.Gaps))
	case st.Duplicates > 0:
		problems = append(problems, fmt.Sprintf("Watch streams repeated %d events", st.Duplicates))
	case st.Ended > 0:
		problems = append(problems, fmt.Sprintf("Follow gave up on a Watch stream %d times", st.Ended))
	}
	hasStreams := false
	for i, c := range rep.Clients {
		switch {
		case c.Protocol == "stream":
			hasStreams = true
		case c.Pinned && rep.ByClient[i].Dialed < 2:
			problems = append(problems, fmt.Sprintf("%s kept one HTTP/2 connection through every drain: no GOAWAY moved it", c.Name))
		}
	}
	if hasStreams {
		if st.Resumes == 0 {
			problems = append(problems, "no Watch stream was ever cut and resumed: the streams prove nothing")
		}
		for _, p := range rep.Phases {
			if p.Streams.Events == 0 {
				problems = append(problems, p.Name+": no stream events")
			}
		}
	}
	return problems
}

// waitServing waits until every replica is a ready endpoint, kube-proxy
// has programmed the Service (traffic sent before its next sync is rejected
// with EPERM) and Traefik routes the Ingress (it answers 404 before). All
// bounded.
func waitServing(ctx context.Context, k kube.Kubectl, ns, clusterIP string, roots *x509.CertPool) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		n, err := k.ReadyEndpoints(ctx, ns, "example-service")
		if err == nil && n >= 3 {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("endpoints of %s/example-service not ready (%d, %v): %w", ns, n, err, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
	cluster.FlushConntrack(ctx)
	probes := []load.HTTPClient{
		{Name: "probe", URL: "http://" + clusterIP + "/"},
		{Name: "probe-ingress", URL: "https://" + ingressHost + "/", Addr: cluster.IngressAddr, RootCAs: roots},
	}
	for _, probe := range probes {
		probe.Rate, probe.Timeout, probe.MaxInFlight = 20, time.Second, 1
		var last load.Sample
		for ok := 0; ok < 20; {
			rec, wait := load.Run(ctx, []load.Client{probe}, 2*time.Second, 1)
			wait()
			s := rec.Samples()
			if len(s) == 1 && s[0].OK {
				ok++
			} else {
				ok = 0
				if len(s) == 1 {
					last = s[0]
				}
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s not serving (last error: %s): %w", probe.URL, last.Error, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	cluster.FlushConntrack(ctx)
	return nil
}

// lintOverlay runs `scaffold lint` on an overlay, as a user would before
// applying it, and returns what it found. Exit status 1 (errors found) is a
// result here, not a failure: check decides what each scenario must get.
func lintOverlay(ctx context.Context, scaffold, overlay string) (report.Lint, error) {
	var r report.Lint
	cmd := exec.CommandContext(ctx, scaffold, "lint", "-o", "json", overlay)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ee := (*exec.ExitError)(nil); err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
		return r, fmt.Errorf("scaffold lint %s: %w: %s", overlay, err, stderr.String())
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return r, fmt.Errorf("scaffold lint %s printed no report: %w", overlay, err)
	}
	return r, nil
}

// createTLSSecret stores the harness's certificate as the Ingress's TLS
// Secret, the one cert-manager would make in a real cluster.
func createTLSSecret(ctx context.Context, k kube.Kubectl, ns string, p *certs.Pair, tmp string) error {
	crt, key := filepath.Join(tmp, "tls.crt"), filepath.Join(tmp, "tls.key")
	if err := os.WriteFile(crt, p.CertPEM, 0o600); err != nil {
		return fmt.Errorf("write certificate: %w", err)
	}
	if err := os.WriteFile(key, p.KeyPEM, 0o600); err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	_, err := k.Run(ctx, "-n", ns, "create", "secret", "tls", ingressSecret, "--cert", crt, "--key", key)
	return err
}

// copyManifests copies the kustomize trees an overlay needs into dst with the
// same relative layout, so that the harness can edit SERVICE_VERSION without
// touching the work tree.
func copyManifests(repo, dst string) (string, error) {
	for _, rel := range []string{"deploy/kustomize", "example-service/deploy/kustomize"} {
		if err := os.CopyFS(filepath.Join(dst, rel), os.DirFS(filepath.Join(repo, rel))); err != nil {
			return "", fmt.Errorf("copy %s: %w", rel, err)
		}
	}
	return dst, nil
}

// setVersion edits SERVICE_VERSION in an overlay's configMapGenerator.
func setVersion(overlay, from, to string) error {
	p := filepath.Join(overlay, "kustomization.yaml")
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("read overlay: %w", err)
	}
	old := "SERVICE_VERSION=" + from
	if !strings.Contains(string(b), old) {
		return fmt.Errorf("%s has no %s to change", p, old)
	}
	return os.WriteFile(p, []byte(strings.ReplaceAll(string(b), old, "SERVICE_VERSION="+to)), 0o644)
}
