package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/zerodrop/zerodrop/test/e2e/internal/cluster"
	"github.com/zerodrop/zerodrop/test/e2e/internal/load"
	"github.com/zerodrop/zerodrop/test/e2e/internal/otlpsink"
	"github.com/zerodrop/zerodrop/test/e2e/internal/report"
)

// startTracing starts the trace sink on the node's address, which pods
// reach, and traces the harness's own requests into it: each request's
// trace context goes to the pods (W3C), and the generated client's attempt
// spans, with the pod each reached, are recorded as they end.
func startTracing(t *testing.T) (*otlpsink.Sink, error) {
	sink, err := otlpsink.Start(net.JoinHostPort(cluster.NodeIP, "0"))
	if err != nil {
		return nil, err
	}
	t.Cleanup(sink.Close)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sink.Processor()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	return sink, nil
}

// traceTo writes, beside overlay, an overlay of it whose pods export their
// spans to the sink at addr, and returns its directory. Only the standard
// OTEL_* variables: the endpoint and protocol, a batch every
// report.ExportEvery so that spans arrive while the run goes on, and the exporter's timeouts within
// the cleanup timeout, as the prod overlay's tracing knob shows.
func traceTo(overlay, addr string) (string, error) {
	dir := overlay + "-traced"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("traced overlay: %w", err)
	}
	k := fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../%s
patches:
- patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: example-service
    spec:
      template:
        spec:
          containers:
          - name: example-service
            env:
            - name: OTEL_EXPORTER_OTLP_ENDPOINT
              value: http://%s
            - name: OTEL_EXPORTER_OTLP_PROTOCOL
              value: grpc
            - name: OTEL_BSP_SCHEDULE_DELAY
              value: "%d"
            - name: OTEL_EXPORTER_OTLP_TIMEOUT
              value: "2000"
            - name: OTEL_BSP_EXPORT_TIMEOUT
              value: "2000"
`, filepath.Base(overlay), addr, report.ExportEvery.Milliseconds())
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		return "", fmt.Errorf("traced overlay: %w", err)
	}
	return dir, nil
}

// awaitSpans fills the scenario's trace figures once the spans of its last
// requests have arrived: the pods export every second, and a hedge that
// lost ends up to a per-attempt timeout after its call. Spans that never
// come (a pod lost them) are the report's to count; the wait is bounded.
func awaitSpans(ctx context.Context, rep *report.Scenario, samples []load.Sample, sink *otlpsink.Sink) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for report.FillTraces(rep, samples, sink.Spans()) > 0 {
		select {
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return nil
			}
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return nil
}
