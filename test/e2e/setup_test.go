package e2e

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/zerodrop/zerodrop/test/e2e/internal/certs"
	"github.com/zerodrop/zerodrop/test/e2e/internal/cluster"
	"github.com/zerodrop/zerodrop/test/e2e/internal/kube"
	"github.com/zerodrop/zerodrop/test/e2e/internal/load"
	"github.com/zerodrop/zerodrop/test/e2e/internal/ociimage"
	"github.com/zerodrop/zerodrop/test/e2e/internal/report"
)

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
	service := filepath.Join(repo, "example-service")
	tags, err := imageTags(service)
	if err != nil {
		return err
	}
	builds := []struct{ dir, pkg, out, tags string }{
		{repo, "./cmd/scaffold", filepath.Join(bin, "scaffold"), ""},
		{service, "./cmd/example-service", filepath.Join(bin, "example-service"), tags},
		{".", "./cmd/pause", filepath.Join(bin, "pause"), ""},
	}
	for _, b := range builds {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-tags", b.tags, "-o", b.out, b.pkg)
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

// imageTags returns the build tags of the service's image (its Dockerfile's
// GO_TAGS), so that the cluster runs the binary that ships.
func imageTags(service string) (string, error) {
	data, err := os.ReadFile(filepath.Join(service, "Dockerfile"))
	if err != nil {
		return "", fmt.Errorf("the image's build tags: %w", err)
	}
	m := regexp.MustCompile(`(?m)^ARG GO_TAGS=(.*)$`).FindSubmatch(data)
	if m == nil {
		return "", nil
	}
	return strings.TrimSpace(string(m[1])), nil
}

// waitServing waits until every replica of the core is a ready endpoint,
// kube-proxy has programmed the Service (traffic sent before its next sync
// is rejected with EPERM) and Traefik routes the Ingress (it answers 404
// before), and, with gateway, until the edge answers through the Gateway's
// HTTPRoute and GRPCRoute, relaying to the core. All bounded.
func waitServing(ctx context.Context, k kube.Kubectl, ns, clusterIP string, roots *x509.CertPool, gateway bool) error {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
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
	probes := []load.Client{
		load.HTTPClient{Name: "probe", URL: "http://" + clusterIP + "/", Rate: 20, Timeout: time.Second, MaxInFlight: 1},
		load.HTTPClient{Name: "probe-ingress", URL: "https://" + ingressHost + "/", Addr: cluster.IngressAddr, RootCAs: roots,
			Rate: 20, Timeout: time.Second, MaxInFlight: 1},
	}
	if gateway {
		for _, c := range gatewayLoad(roots) {
			switch c := c.(type) {
			case load.HTTPClient:
				if !c.KeepAlive && !c.HTTP2 {
					c.Rate, c.Timeout, c.MaxInFlight = 20, time.Second, 1
					probes = append(probes, c)
				}
			case load.GRPCClient:
				c.Rate, c.Conns, c.Timeout, c.MaxInFlight = 20, 1, time.Second, 1
				probes = append(probes, c)
			}
		}
	}
	for _, probe := range probes {
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
				return fmt.Errorf("%s not serving (last error: %s): %w", probe.Describe().Name, last.Error, ctx.Err())
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

// createTLSSecret stores the harness's certificate as a TLS Secret, the one
// cert-manager would make in a real cluster for an Ingress or a Gateway.
func createTLSSecret(ctx context.Context, k kube.Kubectl, ns, name string, p *certs.Pair, tmp string) error {
	crt, key := filepath.Join(tmp, "tls.crt"), filepath.Join(tmp, "tls.key")
	if err := os.WriteFile(crt, p.CertPEM, 0o600); err != nil {
		return fmt.Errorf("write certificate: %w", err)
	}
	if err := os.WriteFile(key, p.KeyPEM, 0o600); err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	_, err := k.Run(ctx, "-n", ns, "create", "secret", "tls", name, "--cert", crt, "--key", key)
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

// gatewayAPICRDs returns the directory of the standard channel of the
// Gateway API CRDs, from the module at the version the root go.mod
// requires for scaffold lint (already in the module cache; a second or
// two), for cluster.Up to install before Traefik starts.
func gatewayAPICRDs(ctx context.Context, repo string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", "sigs.k8s.io/gateway-api")
	cmd.Dir = repo
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download sigs.k8s.io/gateway-api: %w", err)
	}
	var mod struct{ Dir, Version string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return "", fmt.Errorf("go mod download sigs.k8s.io/gateway-api printed no module directory (%v): %s", err, out)
	}
	return filepath.Join(mod.Dir, "config", "crd", "standard"), nil
}

// The platform's Gateway, which the overlays' routes attach to (the
// example's gateway-api component: scaffold new --gateway,
// --gateway-namespace).
const (
	gatewayName      = "gateway"
	gatewayNamespace = "gateway-system"
	gatewaySecret    = "gateway-tls"
)

// makeGateway plays the platform team: the Gateway of Traefik's class, one
// HTTPS listener on the entry point Traefik serves it on, terminating TLS
// with the run's certificate and admitting routes from every namespace.
// It waits until Traefik has programmed it.
func makeGateway(ctx context.Context, k kube.Kubectl, p *certs.Pair, tmp string) error {
	if _, err := k.Run(ctx, "create", "namespace", gatewayNamespace); err != nil {
		return err
	}
	if err := createTLSSecret(ctx, k, gatewayNamespace, gatewaySecret, p, tmp); err != nil {
		return err
	}
	gw := fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: %s
  namespace: %s
spec:
  gatewayClassName: %s
  listeners:
  - name: https
    protocol: HTTPS
    port: %d
    tls:
      mode: Terminate
      certificateRefs:
      - name: %s
    allowedRoutes:
      namespaces:
        from: All
`, gatewayName, gatewayNamespace, cluster.GatewayClass, cluster.GatewayPort, gatewaySecret)
	f := filepath.Join(tmp, "gateway.yaml")
	if err := os.WriteFile(f, []byte(gw), 0o644); err != nil {
		return fmt.Errorf("write the Gateway: %w", err)
	}
	if _, err := k.Run(ctx, "apply", "-f", f); err != nil {
		return err
	}
	_, err := k.Run(ctx, "-n", gatewayNamespace, "wait", "--for=condition=Programmed", "--timeout=60s", "gateway/"+gatewayName)
	return err
}
