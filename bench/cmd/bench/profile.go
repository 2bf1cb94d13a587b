package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/zerodrop/zerodrop/bench/internal/load"
)

// profile builds A and B with the pprof hook in cmd/bare/pprof.go (A from a
// temporary copy of example-service, which stays untouched, with -patch
// applied if given), then takes a
// CPU profile of each under the HTTP load and under the gRPC load, and a heap
// profile when idle. Profiles go to o.out; a text summary of each is printed
// and saved beside it.
func profile(ctx context.Context, o options, work string) error {
	hook := filepath.Join(o.repo, "bench", "cmd", "bare", "pprof.go")
	copyA := filepath.Join(work, "example-service")
	if err := patchedCopy(ctx, filepath.Join(o.repo, "example-service"), o.patches, copyA); err != nil {
		return err
	}
	if err := copyFile(hook, filepath.Join(copyA, "cmd", "example-service", "zz_bench_pprof.go")); err != nil {
		return err
	}
	binA, binB := filepath.Join(work, "example-service-pprof"), filepath.Join(work, "bare-pprof")
	logf("building A and B with the pprof hook")
	tags, err := imageTags(copyA)
	if err != nil {
		return err
	}
	tags = append(tags, "pprof")
	if _, err := build(ctx, copyA, "./cmd/example-service", binA, tags...); err != nil {
		return err
	}
	if _, err := build(ctx, filepath.Join(o.repo, "bench"), "./cmd/bare", binB, tags...); err != nil {
		return err
	}
	proto := filepath.Join(work, "exampleservice.proto")
	if err := copyFile(filepath.Join(copyA, "api", "exampleservice", "v1", "exampleservice.proto"), proto); err != nil {
		return err
	}
	dur := time.Duration(o.profileSeconds) * time.Second
	sayHello := load.SayHello(proto)
	for _, s := range []server{generated(binA).withRPC(sayHello), bare(binB).withRPC(sayHello)} {
		if err := profileOne(ctx, o, s, work, dur); err != nil {
			return fmt.Errorf("profile %s: %w", s.Label, err)
		}
	}
	return nil
}

func profileOne(ctx context.Context, o options, s server, work string, dur time.Duration) error {
	pprofFile := filepath.Join(work, s.Label+"-pprof-addr")
	p, a, _, err := startReady(ctx, o, s, nil, filepath.Join(work, s.Label+"-profile.log"), []string{"BENCH_PPROF_ADDR_FILE=" + pprofFile})
	if err != nil {
		return err
	}
	defer p.Kill()
	// The hook wrote it before the server listened (cmd/bare/pprof.go).
	pprofAddr, err := os.ReadFile(pprofFile)
	if err != nil {
		return fmt.Errorf("the pprof hook's address: %w", err)
	}
	time.Sleep(o.idleSettle)
	base := "http://" + string(pprofAddr) + "/debug/pprof/"
	if err := fetchProfile(ctx, base+"heap", filepath.Join(o.out, "heap-idle-"+s.Label+".pprof")); err != nil {
		return err
	}
	// Profile the middle of each load: start the load, then ask for a
	// profile a second shorter than it.
	secs := fmt.Sprint(int((dur - time.Second) / time.Second))
	for _, kind := range []string{"http", "grpc"} {
		done := make(chan error, 1)
		go func() {
			if kind == "http" {
				load.HTTP{URL: "http://" + a.http + "/", Connections: o.conns, Duration: dur}.Run()
				done <- nil
				return
			}
			_, err := load.GRPC{Addr: a.grpc, RPC: s.rpc, Concurrency: o.grpcConc, Connections: o.grpcConns, Duration: dur}.Run()
			done <- err
		}()
		time.Sleep(500 * time.Millisecond)
		out := filepath.Join(o.out, "cpu-"+kind+"-"+s.Label+".pprof")
		ferr := fetchProfile(ctx, base+"profile?seconds="+secs, out)
		if err := <-done; err != nil {
			return err
		}
		if ferr != nil {
			return ferr
		}
	}
	return nil
}

// fetchProfile saves the profile at url to path and writes a text summary
// of it (go tool pprof -top) next to it, echoing that to stdout.
func fetchProfile(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("profile request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create profile: %w", err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return fmt.Errorf("save profile: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save profile: %w", err)
	}
	top, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=40", path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pprof -top %s: %w\n%s", path, err, top)
	}
	txt := path[:len(path)-len(filepath.Ext(path))] + ".txt"
	if err := os.WriteFile(txt, top, 0o644); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	logf("profile %s -> %s", url, txt)
	return nil
}
