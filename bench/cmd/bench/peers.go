package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/zerodrop/zerodrop/bench/internal/load"
	"github.com/zerodrop/zerodrop/bench/internal/proc"
	"github.com/zerodrop/zerodrop/bench/internal/report"
)

// A peer is a server users pick instead of the template, built from its own
// module at a pinned version: no copy of its code lives in this repository.
type peer struct {
	name string
	// build puts the peer's binary in place and returns its side and the
	// binary's size; a peer that serves the example's Greeter is called with
	// sayHello.
	build func(ctx context.Context, o options, work string, sayHello load.RPC) (server, int64, error)
}

// knownPeers are the peers -peers can name, in the order they run.
var knownPeers = []peer{
	{name: "podinfo", build: buildPodinfo},
	{name: "kratos", build: buildKratos},
	{name: "gozero", build: buildGozero},
}

// buildPeers builds the peers named in o.peers. A peer whose module cannot
// be fetched or built is skipped with one line that says why, so that a run
// without the network still measures A and B.
func buildPeers(ctx context.Context, o options, work string, sayHello load.RPC) ([]server, []int64, error) {
	var sides []server
	var sizes []int64
	for _, name := range o.peers {
		i := peerIndex(name)
		if i < 0 {
			return nil, nil, fmt.Errorf("unknown peer %q (known: %s)", name, strings.Join(peerNames(), ", "))
		}
		s, size, err := knownPeers[i].build(ctx, o, work, sayHello)
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		if err != nil {
			logf("skipping peer %s: %s", name, firstLine(err.Error()))
			continue
		}
		logf("peer %s: %s", name, s.Name)
		sides = append(sides, s)
		sizes = append(sizes, size)
	}
	return sides, sizes, nil
}

func peerNames() []string {
	names := make([]string, len(knownPeers))
	for i, p := range knownPeers {
		names[i] = p.name
	}
	return names
}

func peerIndex(name string) int {
	for i, p := range knownPeers {
		if p.name == name {
			return i
		}
	}
	return -1
}

func firstLine(s string) string {
	line, rest, _ := strings.Cut(strings.TrimSpace(s), "\n")
	if rest != "" {
		line += " (…)"
	}
	return line
}

const (
	podinfoModule = "github.com/stefanprodan/podinfo"
	// podinfoVersion is podinfo's main branch of 2025-09-10, whose
	// pkg/version says 6.9.2. The module proxy serves podinfo only as
	// pseudo-versions: its v6 tags are not valid versions of a module path
	// without a /v6 suffix.
	podinfoVersion = "v1.8.1-0.20250910200901-e86405a8674e"
	// podinfoRelease is what that commit calls itself.
	podinfoRelease = "6.9.2"
)

// buildPodinfo installs podinfo's command from its module, the way the go
// command installs any module's command, with the flags A and B are built
// with, into the user cache directory keyed by podinfo's version and this
// Go version: a warm run finds it there and builds nothing.
func buildPodinfo(ctx context.Context, _ options, _ string, _ load.RPC) (server, int64, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return server{}, 0, fmt.Errorf("user cache directory: %w", err)
	}
	root := filepath.Join(cache, "zerodrop-bench")
	dir := filepath.Join(root, "podinfo-"+podinfoVersion+"-"+runtime.Version())
	bin := filepath.Join(dir, "podinfo")
	if _, err := os.Stat(bin); err != nil {
		logf("building podinfo %s from its module into %s", podinfoVersion, dir)
		if err := os.MkdirAll(root, 0o755); err != nil {
			return server{}, 0, fmt.Errorf("create cache: %w", err)
		}
		tmp, err := os.MkdirTemp(root, "podinfo-build-")
		if err != nil {
			return server{}, 0, fmt.Errorf("create cache: %w", err)
		}
		defer os.RemoveAll(tmp)
		cmd := exec.CommandContext(ctx, "go", "install", "-trimpath", "-ldflags=-s -w", podinfoModule+"/cmd/podinfo@"+podinfoVersion)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOBIN="+tmp)
		if out, err := cmd.CombinedOutput(); err != nil {
			return server{}, 0, fmt.Errorf("go install %s@%s: %w\n%s", podinfoModule, podinfoVersion, err, out)
		}
		// The rename makes a complete binary appear at once, or not at all.
		if err := os.Rename(tmp, dir); err != nil {
			return server{}, 0, fmt.Errorf("move podinfo into the cache: %w", err)
		}
	}
	st, err := os.Stat(bin)
	if err != nil {
		return server{}, 0, fmt.Errorf("stat %s: %w", bin, err)
	}
	return podinfo(bin), st.Size(), nil
}

// podinfo runs as shipped, logging at info. It cannot listen on port 0: its
// gRPC server starts only for a port above 0, and binds it on every
// interface; an HTTP port of 0 turns HTTP off; and it logs only the ports
// it was given. So every start draws two fixed ports (freePorts).
func podinfo(bin string) server {
	return server{
		Side: report.Side{Label: "P", Name: "podinfo " + podinfoRelease + " (P)"}, bin: bin,
		fixedPorts: func() ([]string, addrs) {
			ports := freePorts(2)
			h, g := ports[0], ports[1]
			return []string{"--host=127.0.0.1", "--port=" + strconv.Itoa(h), "--grpc-port=" + strconv.Itoa(g)},
				addrs{http: "127.0.0.1:" + strconv.Itoa(h), grpc: "127.0.0.1:" + strconv.Itoa(g)}
		},
		// Ready is set once the HTTP server starts, after the gRPC listener
		// is open.
		readyURL: func(a addrs) string { return "http://" + a.http + "/readyz" },
		rpc:      load.HealthCheck(),
		drain:    "D = 3s, fixed in podinfo",
		serves: "podinfo " + podinfoRelease + " (`" + podinfoModule + "@" + podinfoVersion + "`), as shipped: gorilla/mux with its " +
			"Prometheus, OpenTelemetry, logging and version middleware; `GET /` is its info handler (a larger JSON body); " +
			"gRPC is a bare `grpc.NewServer()` with its own services, and it serves no `Greeter`, so its gRPC figures are " +
			"`grpc.health.v1.Health/Check` (grpc-go's health server); on SIGTERM it fails readiness, sleeps 3 s (fixed), then `GracefulStop` and `Shutdown`",
	}
}

// buildKratos builds the kratos peer, a module of its own in peers/kratos,
// like the baseline.
func buildKratos(ctx context.Context, o options, work string, sayHello load.RPC) (server, int64, error) {
	bin, version, size, err := buildPeerModule(ctx, o, work, "kratos", "github.com/go-kratos/kratos/v2")
	if err != nil {
		return server{}, 0, err
	}
	return server{
		Side: report.Side{Label: "K", Name: "kratos " + version + " (K)"}, bin: bin,
		args:     []string{"-http-addr=127.0.0.1:0", "-grpc-addr=127.0.0.1:0", "-addr-file=" + proc.AddrFile},
		readyURL: func(a addrs) string { return "http://" + a.http + "/" },
		rpc:      sayHello,
		drain:    "no drain delay",
		serves: "`bench/peers/kratos`: `github.com/go-kratos/kratos/v2 " + version + "` used as kratos-layout uses it: `kratos.New` " +
			"with its HTTP and gRPC transport servers, the recovery middleware on both, 1 s timeouts, the layout's logger; `GET /` " +
			"is a route in the shape protoc-gen-go-http generates, answering the example's `SayHelloResponse` as JSON, and " +
			"gRPC serves the example's own `Greeter` (kratos registers `grpc.health.v1` and reflection itself); no drain delay",
	}, size, nil
}

// buildGozero builds the go-zero peer, a module of its own in peers/gozero,
// like the kratos one.
func buildGozero(ctx context.Context, o options, work string, sayHello load.RPC) (server, int64, error) {
	bin, version, size, err := buildPeerModule(ctx, o, work, "gozero", "github.com/zeromicro/go-zero")
	if err != nil {
		return server{}, 0, err
	}
	return server{
		Side: report.Side{Label: "G", Name: "go-zero " + version + " (G)"}, bin: bin,
		// go-zero binds the ports its config names and reports them only
		// in its log, so every start draws three (HTTP, gRPC and its dev
		// server's), as for podinfo.
		fixedPorts: func() ([]string, addrs) {
			p := freePorts(3)
			return []string{"-http-port=" + strconv.Itoa(p[0]), "-grpc-port=" + strconv.Itoa(p[1]), "-dev-port=" + strconv.Itoa(p[2])},
				addrs{http: "127.0.0.1:" + strconv.Itoa(p[0]), grpc: "127.0.0.1:" + strconv.Itoa(p[1]), health: "127.0.0.1:" + strconv.Itoa(p[2])}
		},
		// The peer starts its HTTP server once its gRPC port accepts.
		readyURL: func(a addrs) string { return "http://" + a.http + "/" },
		rpc:      sayHello,
		drain:    "D = 1s, go-zero's WrapUpTime",
		serves: "`bench/peers/gozero`: `github.com/zeromicro/go-zero " + version + "` as goctl generates a service: its `rest` and " +
			"`zrpc` servers from the keys goctl's config files set and go-zero's defaults for the rest (an access log line per " +
			"request, tracing, Prometheus, breaker, load shedding, timeouts, recovery, and its dev server); `GET /` is a goctl " +
			"handler answering the example's reply with `httpx.OkJsonCtx`, and gRPC serves the example's own `Greeter`; on SIGTERM " +
			"it keeps serving for 1 s (WrapUpTime), then fails `/healthz` and runs `Shutdown` and `GracefulStop`",
	}, size, nil
}

// buildPeerModule builds the peer module in bench/peers/name into work, and
// returns the binary, the version of framework that its go.mod requires (the
// report names what was measured) and the binary's size.
func buildPeerModule(ctx context.Context, o options, work, name, framework string) (bin, version string, size int64, err error) {
	dir := filepath.Join(o.repo, "bench", "peers", name)
	if version, err = requiredVersion(filepath.Join(dir, "go.mod"), framework); err != nil {
		return "", "", 0, err
	}
	bin = filepath.Join(work, name)
	if size, err = build(ctx, dir, ".", bin); err != nil {
		return "", "", 0, err
	}
	return bin, version, size, nil
}

// requiredVersion reads the version of module that the go.mod at path
// requires, so that the report names the version the peer was built with.
func requiredVersion(path, module string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
		if len(fields) >= 2 && fields[0] == module {
			return fields[1], nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return "", errors.New(path + " does not require " + module)
}
