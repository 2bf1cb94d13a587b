package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/zerodrop/zerodrop/test/e2e/internal/certs"
	"github.com/zerodrop/zerodrop/test/e2e/internal/cluster"
	"github.com/zerodrop/zerodrop/test/e2e/internal/kube"
	"github.com/zerodrop/zerodrop/test/e2e/internal/load"
	"github.com/zerodrop/zerodrop/test/e2e/internal/otlpsink"
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
	// edgeHost and edgeGRPCHost are the edge tier's routes on the Gateway
	// (deploy/kustomize/prod-like-edge); the same run's CA signs them.
	edgeHost     = "edge.example.com"
	edgeGRPCHost = "grpc.edge.example.com"
	// minRequests is the least load a passing prod-like run must have
	// carried; 335/s over the twelve disruptions is about 107,000.
	minRequests = 50_000
)

// loadFor is the load straight at the core tier's Service, 255 requests and
// calls a second in all, and four Watch streams; gatewayLoad adds 40/s
// through the edge, each of them a request in both tiers: 335 requests a
// second in the pods, as in the one-tier proof that passed at that rate. On
// 2 cores that leaves room for six pods, the control plane, Traefik and the
// surge pod of a rollout. (At 425/s on one tier the p99 across the
// disruptions came to 1.8-2.3x the steady p99, against 1.2-1.4x at 350/s
// before the streams and HTTP/2 clients. At 365/s with every request
// traced, two runs of three had a phase past 2x: 2.05x and 3.13x, both
// while pods started. Tracing costs each request a span in the harness and
// in the pod, and its export; the cuts fall most on the clients that cost
// most: TLS handshakes through the ingress and new connections.) Each
// client may have more requests in flight than its rate times its timeout:
// in a partition every request of a client may wait out its timeout, and at
// exactly that bound the next one found it reached and failed as "client
// saturated".
func loadFor(clusterIP, namespace string, roots *x509.CertPool) []load.Client {
	url := "http://" + clusterIP + "/drill/work"
	ingress := "https://" + ingressHost + "/drill/work"
	via := "through the Ingress (Traefik, TLS)"
	grpcTarget := clusterIP + ":9090"
	headless := "dns://" + cluster.DNSServer + "/example-service-headless." + namespace + ".svc.cluster.local.:9090"
	// What client.NewInCluster's fallback, the ClusterIP Service's name,
	// resolves to; the harness's host has no cluster DNS of its own.
	fallback := "passthrough:///" + grpcTarget
	clusterip := load.Route{Tier: "core", Path: "clusterip"}
	viaIngress := load.Route{Tier: "core", Path: "ingress"}
	viaHeadless := load.Route{Tier: "core", Path: "headless"}
	return []load.Client{
		load.HTTPClient{Name: "http-newconn-a", URL: url, Route: clusterip, Rate: 25, Timeout: 2 * time.Second, MaxInFlight: 100},
		load.HTTPClient{Name: "http-newconn-b", URL: url, Route: clusterip, Rate: 25, Timeout: 2 * time.Second, MaxInFlight: 100},
		load.HTTPClient{Name: "http-keepalive-8", URL: url, Route: clusterip, Rate: 40, KeepAlive: true, Conns: 8, Timeout: 2 * time.Second, MaxInFlight: 150},
		load.HTTPClient{Name: "http-keepalive-2", URL: url, Route: clusterip, Rate: 20, KeepAlive: true, Conns: 2, Timeout: 2 * time.Second, MaxInFlight: 75},
		load.HTTPClient{Name: "ingress-newconn", URL: ingress, Route: viaIngress, Addr: cluster.IngressAddr, RootCAs: roots, Via: via,
			Rate: 20, Timeout: 2 * time.Second, MaxInFlight: 100},
		load.HTTPClient{Name: "ingress-keepalive-4", URL: ingress, Route: viaIngress, Addr: cluster.IngressAddr, RootCAs: roots, Via: via,
			Rate: 20, KeepAlive: true, Conns: 4, Timeout: 2 * time.Second, MaxInFlight: 75},
		load.HTTPClient{Name: "h2c-clusterip-1", URL: url, Route: clusterip, HTTP2: true, Conns: 1, Rate: 10, Timeout: 2 * time.Second, MaxInFlight: 50},
		load.HTTPClient{Name: "ingress-h2-1", URL: ingress, Route: viaIngress, Addr: cluster.IngressAddr, RootCAs: roots, Via: via,
			HTTP2: true, Conns: 1, Rate: 10, Timeout: 2 * time.Second, MaxInFlight: 50},
		load.GRPCClient{Name: "grpc-plain-clusterip", Target: grpcTarget, Route: clusterip, Rate: 35, Conns: 4, Timeout: 2 * time.Second, MaxInFlight: 150},
		load.GRPCClient{Name: "grpc-headless-rr", Target: headless, Route: viaHeadless, Rate: 40, Conns: 2, Timeout: 2 * time.Second, MaxInFlight: 150,
			Dial: load.HeadlessDial(fallback), Retries: true,
			Mode: "the drill's Work through example-service/client on the headless Service via CoreDNS (30 s cache), the ClusterIP as fallback: round_robin, health checks, 4 attempts for idempotent calls; 2 clients"},
		load.GRPCClient{Name: "grpc-count-rr", Target: headless, Route: viaHeadless, Rate: 10, Conns: 1, Timeout: 2 * time.Second, MaxInFlight: 50,
			Dial: load.HeadlessDial(fallback), Count: true, Mode: "the drill's Count (side effects: never retried) through example-service/client on the headless Service, the ClusterIP as fallback"},
		load.StreamClient{Name: "watch-follow", Target: headless, Route: viaHeadless, Fallback: fallback, Streams: 4, Interval: 250 * time.Millisecond},
	}
}

// gatewayLoad is the load that enters the edge tier through the Gateway
// (Traefik's Gateway API provider, which drops a pod from its pool once it
// is not ready): the HTTP, HTTPS, HTTP/2 and gRPC client kinds of loadFor,
// each request relayed to the core by the edge's generated client, so that a
// failure on either tier, or between them, fails it. 40/s: every request
// here is two in the pods, and two tiers on 2 cores leave less room.
func gatewayLoad(roots *x509.CertPool) []load.Client {
	url := "https://" + edgeHost + "/drill/work"
	via := "through the Gateway (Traefik's Gateway API provider, TLS) to the edge, which relays to the core"
	gw := load.Route{Tier: "edge", Path: "gateway"}
	return []load.Client{
		load.HTTPClient{Name: "gateway-newconn", URL: url, Route: gw, Addr: cluster.GatewayAddr, RootCAs: roots, Via: via,
			Rate: 10, Timeout: 2 * time.Second, MaxInFlight: 50},
		load.HTTPClient{Name: "gateway-keepalive-4", URL: url, Route: gw, Addr: cluster.GatewayAddr, RootCAs: roots, Via: via,
			Rate: 10, KeepAlive: true, Conns: 4, Timeout: 2 * time.Second, MaxInFlight: 50},
		load.HTTPClient{Name: "gateway-h2-1", URL: url, Route: gw, Addr: cluster.GatewayAddr, RootCAs: roots, Via: via,
			HTTP2: true, Conns: 1, Rate: 10, Timeout: 2 * time.Second, MaxInFlight: 50},
		load.GRPCClient{Name: "gateway-grpc", Target: cluster.GatewayAddr, Route: gw,
			TLS: &tls.Config{RootCAs: roots, ServerName: edgeGRPCHost}, Authority: edgeGRPCHost,
			Rate: 10, Conns: 2, Timeout: 2 * time.Second, MaxInFlight: 50,
			Mode: "plain client, TLS (ALPN h2) to the Gateway's GRPCRoute over 2 long-lived connections, " + via},
	}
}

// tier is one Deployment of the system under test, in a namespace of its
// own: the core, which the load reaches directly, or the edge, which the
// load reaches through the Gateway and which relays to the core.
type tier struct{ name, overlay, namespace string }

// scenario is a system of deploy/kustomize overlays run through every
// disruption, on each of its tiers in turn.
type scenario struct {
	name string
	// tiers: the core first; an edge after it relays to the core.
	tiers []tier
	// wantFailures: the naive overlay must fail requests, or the harness
	// could not tell a broken Deployment from a good one.
	wantFailures bool
	// readiness: the overlay's pods have a readiness probe. The partition
	// phase keeps a pod cut off until the probe takes it out of the
	// endpoints; the naive overlay has no probe, so its pod would never
	// leave them, and it has no partition phase.
	readiness bool
	// traced: the pods export their spans to the harness's trace sink,
	// and the report holds every phase to them.
	traced bool
}

var scenarios = []scenario{
	{name: "prod-like", tiers: []tier{
		{"core", "deploy/kustomize/prod-like", "example-service"},
		{"edge", "deploy/kustomize/prod-like-edge", "example-edge"},
	}, readiness: true, traced: true},
	{name: "naive", tiers: []tier{{"core", "deploy/kustomize/naive", "example-service-naive"}}, wantFailures: true},
}

// TestLoadBoundsAboveTimeouts: no client's bound on requests in flight is
// reached by requests that all wait out their timeout.
func TestLoadBoundsAboveTimeouts(t *testing.T) {
	for _, c := range append(loadFor("10.218.0.1", "ns", nil), gatewayLoad(nil)...) {
		var rate, inFlight int
		var timeout time.Duration
		switch c := c.(type) {
		case load.HTTPClient:
			rate, inFlight, timeout = c.Rate, c.MaxInFlight, c.Timeout
		case load.GRPCClient:
			rate, inFlight, timeout = c.Rate, c.MaxInFlight, c.Timeout
		default:
			continue
		}
		if float64(inFlight) <= float64(rate)*timeout.Seconds() {
			t.Errorf("%s: at most %d in flight, reached at %d/s by requests that time out after %v", c.Describe().Name, inFlight, rate, timeout)
		}
	}
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
	tlsPair, err := certs.Issue(ingressHost, edgeHost, edgeGRPCHost)
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

	crds, err := gatewayAPICRDs(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	var c *cluster.Cluster
	timed("cluster up", func() (err error) {
		c, err = cluster.Up(ctx, scripts, dir, kbin, coredns, traefik, crds, logw)
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
	timed("make the Gateway", func() error { return makeGateway(ctx, k, tlsPair, t.TempDir()) })
	var sink *otlpsink.Sink
	timed("start the trace sink", func() (err error) {
		sink, err = startTracing(t)
		return err
	})

	defer func() {
		run.Passed = !t.Failed()
		if err := report.Write(runDir, run); err != nil {
			t.Errorf("report: %v", err)
		}
		if err := report.Write(filepath.Join("results", "latest"), run); err != nil {
			t.Errorf("report: %v", err)
		}
		t.Logf("report: %s/run.md", runDir)
		// CI keeps only the tail of the output, and the naive scenario's
		// lines come after the gates that failed: say them again, last.
		for _, sc := range run.Scenarios {
			for _, p := range sc.Problems {
				t.Logf("gate failed: %s: %s", sc.Name, p)
			}
		}
	}()
	for _, sc := range scenarios {
		start := time.Now()
		rep, err := runScenario(ctx, t, c, k, repo, sc, runDir, tlsPair, filepath.Join(bin, "scaffold"), sink)
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

// step is one phase of disruption: a rollout, started by a command and over
// when no old pod is left, or one of the other ways a cluster takes pods
// away. run does it and waits until it is over, and may note in its phase
// what it did.
type step struct {
	name, kind string
	to         string // version clients must see at the end
	run        func(ctx context.Context, p *report.Phase) error
}

// tierStep is a step on one tier. relays: the tier relays to the next,
// whose version its answers carry (the versions that count are the
// relaying pods').
type tierStep struct {
	step
	tier   string
	relays bool
	d      disruptions
}

func runScenario(ctx context.Context, t *testing.T, c *cluster.Cluster, k kube.Kubectl, repo string, sc scenario, runDir string, tlsPair *certs.Pair, scaffold string, sink *otlpsink.Sink) (*report.Scenario, error) {
	tree, err := copyManifests(repo, t.TempDir())
	if err != nil {
		return nil, err
	}
	rep := &report.Scenario{Name: sc.name, Overlay: sc.tiers[0].overlay, Expect: "no failures", Traced: sc.traced}
	if sc.wantFailures {
		rep.Expect = "failures"
	}
	// Each tier is applied and serving before the next, which calls it.
	type deployed struct {
		tier
		overlay, apply, ip string
	}
	var tiers []deployed
	for _, tr := range sc.tiers {
		t.Logf("%s: applying %s", sc.name, tr.overlay)
		dt := deployed{tier: tr, overlay: filepath.Join(tree, tr.overlay)}
		lintRep, err := lintOverlay(ctx, scaffold, dt.overlay)
		if err != nil {
			return nil, err
		}
		rep.Lint.Add(lintRep)
		// What is applied: the overlay, or for a traced scenario the
		// overlay with the trace sink as its pods' collector.
		dt.apply = dt.overlay
		if sc.traced {
			if dt.apply, err = traceTo(dt.overlay, sink.Addr); err != nil {
				return nil, err
			}
		}
		// A server-side dry run of namespaced objects needs their namespace.
		if _, err := k.Run(ctx, "create", "namespace", tr.namespace); err != nil {
			return nil, err
		}
		if err := createTLSSecret(ctx, k, tr.namespace, ingressSecret, tlsPair, t.TempDir()); err != nil {
			return nil, err
		}
		if _, err := k.Run(ctx, "apply", "--dry-run=server", "-k", dt.apply); err != nil {
			return nil, fmt.Errorf("server dry run of %s: %w", tr.overlay, err)
		}
		if _, err := k.Run(ctx, "apply", "-k", dt.apply); err != nil {
			return nil, err
		}
		defer func() {
			// Free the node for the next scenario; the pods drain as they
			// would. Deferred, the edge goes before the core it calls.
			if _, err := k.Run(context.Background(), "delete", "namespace", tr.namespace, "--wait", "--timeout=90s"); err != nil {
				t.Errorf("%s: %v", sc.name, err)
			}
		}()
		if _, err := k.WaitRollout(ctx, tr.namespace, "example-service", selector, 3*time.Minute); err != nil {
			return nil, err
		}
		if dt.ip, err = k.ClusterIP(ctx, tr.namespace, "example-service"); err != nil {
			return nil, err
		}
		rep.Tiers = append(rep.Tiers, report.Tier{Name: tr.name, Overlay: tr.overlay, Lint: lintRep,
			Target: tr.namespace + "/example-service " + dt.ip + " (:80 http, :9090 grpc)"})
		tiers = append(tiers, dt)
	}
	core := tiers[0]
	clients := loadFor(core.ip, core.namespace, tlsPair.Roots)
	if len(tiers) > 1 {
		clients = append(clients, gatewayLoad(tlsPair.Roots)...)
	}
	if err := waitServing(ctx, k, core.namespace, core.ip, tlsPair.Roots, len(tiers) > 1); err != nil {
		return nil, err
	}
	rep.Target = rep.Tiers[0].Target
	var maxRate int
	for _, c := range clients {
		rep.Clients = append(rep.Clients, c.Describe())
		maxRate += c.Describe().Rate
	}
	// Bounds: 20 minutes and as many requests as the rates allow in that
	// time; the scenario stops the load much earlier.
	const maxLoad = 20 * time.Minute
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

	headless := slices.IndexFunc(clients, func(c load.Client) bool { return c.Describe().Name == "grpc-headless-rr" })
	direct := func(from time.Duration) (attempts int, pods map[string]bool) {
		pods = map[string]bool{}
		samples := rec.Samples()
		for i := len(samples) - 1; i >= 0 && samples[i].At >= from; i-- {
			if samples[i].Client != headless {
				continue
			}
			for _, t := range samples[i].Tries {
				if t.Peer == core.ip {
					return attempts, nil
				}
				attempts++
				pods[t.Peer] = true
			}
		}
		return attempts, pods
	}
	pods := map[string]string{}
	var steps []tierStep
	for i, tr := range tiers {
		d := disruptions{c: c, k: k, ns: tr.namespace, since: since, direct: direct, pods: pods}
		deploy := "deployment/example-service"
		kubectl := func(args ...string) func(context.Context) error {
			return func(ctx context.Context) error {
				_, err := k.Run(ctx, append([]string{"-n", tr.namespace}, args...)...)
				return err
			}
		}
		tierSteps := []step{
			{"rollout restart 1", "restart", version0, d.rollout(kubectl("rollout", "restart", deploy))},
			{"rollout restart 2", "restart", version0, d.rollout(kubectl("rollout", "restart", deploy))},
			{"rollout restart 3", "restart", version0, d.rollout(kubectl("rollout", "restart", deploy))},
			{"set image e2e-b", "set-image", version0, d.rollout(kubectl("set", "image", deploy, "example-service="+imageB))},
			{"version " + version1 + " via ConfigMap", "version", version1, d.rollout(func(ctx context.Context) error {
				if err := setVersion(tr.overlay, version0, version1); err != nil {
					return err
				}
				_, err := k.Run(ctx, "apply", "-k", tr.apply)
				return err
			})},
			{"rollout undo", "undo", version0, d.rollout(kubectl("rollout", "undo", deploy))},
			{"scale 3 to 1", "scale-in", version0, d.scale(1)},
			{"scale 1 to 3", "scale-out", version0, d.scale(3)},
			{"evict each pod", "evict", version0, d.evictEach},
			{"delete each pod", "delete", version0, d.deleteEach},
			{"SIGKILL one pod", report.KillKind, version0, d.killOne},
		}
		// The partition is the core's: the generated client that must
		// leave a silent pod calls the core, from the harness and from the
		// edge. Through the edge, a silent edge pod is the gateway's to
		// leave, which only the readiness probe makes it do.
		if sc.readiness && i == 0 {
			tierSteps = append(tierSteps, step{"partition one pod", report.PartitionKind, version0, d.partitionOne})
		}
		for _, st := range tierSteps {
			if len(tiers) > 1 {
				st.name = tr.name + ": " + st.name
			}
			steps = append(steps, tierStep{step: st, tier: tr.name, relays: i > 0, d: d})
		}
	}

	select {
	case <-time.After(steadyFor):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	rep.Phases = append(rep.Phases, report.Phase{Name: "steady", Kind: "steady", End: since(), FromVersion: version0, ToVersion: version0})
	cur := map[string]string{}
	for _, tr := range tiers {
		cur[tr.name] = version0
	}
	var stepErr error
	for _, s := range steps {
		p := report.Phase{Name: s.name, Kind: s.kind, Tier: s.tier, Relaying: s.relays, Start: since(), FromVersion: cur[s.tier], ToVersion: s.to}
		if stepErr = s.run(ctx, &p); stepErr == nil {
			p.DNSAnswer, p.DNSStale, stepErr = s.d.staleDNS(ctx)
			t.Logf("%s: %s done after %.1fs %s; CoreDNS answered %d addresses, %d stale", sc.name, s.name, (since() - p.Start).Seconds(), p.Note, p.DNSAnswer, p.DNSStale)
		}
		time.Sleep(settle)
		p.End = since()
		rep.Phases = append(rep.Phases, p)
		cur[s.tier] = s.to
		if stepErr != nil {
			stepErr = fmt.Errorf("%s: %w", s.name, stepErr)
			break
		}
	}
	if stepErr == nil {
		p := report.Phase{Name: "steady after", Kind: "steady", Start: since(), FromVersion: cur[core.name], ToVersion: cur[core.name]}
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
	samples, events, conns := rec.Samples(), rec.Events(), rec.Conns()
	rep.Pods = pods
	report.Fill(rep, samples, events, conns)
	if sc.traced {
		if err := awaitSpans(ctx, rep, samples, sink); err != nil {
			return rep, err
		}
		if err := report.WriteSamples(filepath.Join(runDir, "spans-"+sc.name+".jsonl.gz"), sink.Spans()); err != nil {
			return rep, err
		}
	}
	if err := report.WriteSamples(filepath.Join(runDir, "samples-"+sc.name+".jsonl.gz"), samples); err != nil {
		return rep, err
	}
	if err := report.WriteSamples(filepath.Join(runDir, "streams-"+sc.name+".jsonl.gz"), events); err != nil {
		return rep, err
	}
	if err := report.WriteSamples(filepath.Join(runDir, "conns-"+sc.name+".jsonl.gz"), conns); err != nil {
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
