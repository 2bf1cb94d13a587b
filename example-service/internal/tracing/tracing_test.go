package tracing

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.uber.org/goleak"

	"github.com/zerodrop/zerodrop/example-service/internal/version"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

// TestEnabled: only an OTLP endpoint turns tracing on, and the standard
// switches turn it off again.
func TestEnabled(t *testing.T) {
	for _, tt := range []struct {
		env  map[string]string
		want bool
	}{
		{nil, false},
		{map[string]string{"OTEL_SERVICE_NAME": "a", "OTEL_TRACES_SAMPLER": "always_on"}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "TRUE"}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, false},
	} {
		if got := Enabled(env(tt.env)); got != tt.want {
			t.Errorf("Enabled(%v) = %v, want %v", tt.env, got, tt.want)
		}
	}
}

// TestOffInstallsNothing: with nothing set, Start leaves the global no-op
// provider in place and starts no goroutine.
func TestOffInstallsNothing(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	shutdown, err := Start(context.Background(), env(nil), "svc", version.Info{Version: "1"})
	if err != nil || shutdown != nil {
		t.Fatalf("Start with no OTEL_* set: shutdown %v, error %v; want neither", shutdown != nil, err)
	}
	if _, sdk := otel.GetTracerProvider().(*sdktrace.TracerProvider); sdk {
		t.Error("a tracer provider was installed with tracing off")
	}
}

// TestBadSettingsSayWhatToUse: a protocol or exporter the service cannot
// use fails the start with a message that names the variable and the
// values that work.
func TestBadSettingsSayWhatToUse(t *testing.T) {
	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, `OTEL_EXPORTER_OTLP_PROTOCOL="http/json": use grpc or http/protobuf`},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "thrift"}, `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="thrift"`},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "zipkin"}, "otlp only"},
	} {
		_, err := Start(context.Background(), env(tt.env), "svc", version.Info{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Start(%v) = %v, want an error saying %q", tt.env, err, tt.want)
		}
	}
}
