// Package tracing turns OpenTelemetry tracing on from the standard OTEL_*
// environment, and from nothing else, so that a platform's usual settings
// (an OpenTelemetry Operator's injection, a Helm chart's env) work as they
// do for any other service. With no endpoint set, it installs nothing: no
// provider, no exporter goroutine, no span anywhere, and no cost.
//
// The SDK and the OTLP exporters read the rest of the environment
// themselves: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, the sampler
// (OTEL_TRACES_SAMPLER, _ARG), the batch processor (OTEL_BSP_*) and the
// exporter's headers, timeout, compression and certificates
// (OTEL_EXPORTER_OTLP_*). Spans still queued at shutdown are flushed by the
// function Start returns, which the shutdown runs as a cleanup step,
// bounded like every other (the cleanup timeout F).
package tracing

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/golang/glog"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/zerodrop/zerodrop/example-service/internal/version"
)

// Enabled reports whether the environment asks for traces: an OTLP endpoint
// is set (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT),
// and neither OTEL_SDK_DISABLED=true nor OTEL_TRACES_EXPORTER=none turns
// them off. The OTLP exporters would otherwise send to localhost, where no
// collector usually listens.
func Enabled(getenv func(string) string) bool {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") || getenv("OTEL_TRACES_EXPORTER") == "none" {
		return false
	}
	return getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != ""
}

// Start installs the global tracer provider and the W3C trace context and
// baggage propagators when Enabled, and returns a function that flushes
// the spans still queued and stops the exporter. With tracing off, it
// returns nil and installs nothing. name and info are the resource's
// service.name and service.version unless the environment says otherwise.
func Start(ctx context.Context, getenv func(string) string, name string, info version.Info) (shutdown func(context.Context) error, err error) {
	if !Enabled(getenv) {
		return nil, nil
	}
	if e := getenv("OTEL_TRACES_EXPORTER"); e != "" && e != "otlp" {
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: this service exports traces with otlp only; set otlp, or none to turn tracing off", e)
	}
	exp, err := exporter(ctx, getenv)
	if err != nil {
		return nil, err
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(name), semconv.ServiceVersion(info.Version)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(), // last, so that OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("tracing resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { glog.Warningf("tracing: %v", err) }))
	return tp.Shutdown, nil
}

// exporter is the OTLP exporter for the protocol that the environment
// names (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL);
// http/protobuf when it names none, as the specification says.
func exporter(ctx context.Context, getenv func(string) string) (sdktrace.SpanExporter, error) {
	protocol, from := getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"), "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	if protocol == "" {
		protocol, from = getenv("OTEL_EXPORTER_OTLP_PROTOCOL"), "OTEL_EXPORTER_OTLP_PROTOCOL"
	}
	switch protocol {
	case "grpc":
		return otlptracegrpc.New(ctx)
	case "", "http/protobuf":
		return otlptracehttp.New(ctx)
	default:
		return nil, fmt.Errorf("%s=%q: use grpc or http/protobuf", from, protocol)
	}
}
