package lint

import "testing"

// TestOTelExportTimeout: a container that exports traces must not wait for
// the collector longer than its cleanup timeout F, explicitly or by the
// SDK's defaults; one that exports nothing, or whose F the input does not
// set, is not judged.
func TestOTelExportTimeout(t *testing.T) {
	const f = "{name: CLEANUP_TIMEOUT, value: 3s}, "
	const endpoint = "{name: OTEL_EXPORTER_OTLP_ENDPOINT, value: 'http://otel-collector.observability:4317'}, "
	const within = "{name: OTEL_EXPORTER_OTLP_TIMEOUT, value: '2000'}, {name: OTEL_BSP_EXPORT_TIMEOUT, value: '2500'}, "
	api := func(env string) string {
		return stream([]string{shopAPI(shopEnv + ", " + env + "{name: GREETING, value: hello}"), shopService(shopPorts)})
	}
	runRouteCases(t, "otel-export-timeout", []routeCase{
		{name: "no export", yaml: api(f)},
		{name: "timeouts within F", yaml: api(f + endpoint + within)},
		{name: "F not in the input", yaml: api(endpoint)},
		{name: "the exporter's default", yaml: api(f + endpoint + "{name: OTEL_BSP_EXPORT_TIMEOUT, value: '2500'}, "), fires: true,
			field: "spec.template.spec.containers[name=api].env[OTEL_EXPORTER_OTLP_TIMEOUT]",
			says:  []string{"may wait 10s for the collector", "its default", "cleanup timeout 3s (CLEANUP_TIMEOUT)", "lost"},
			fix:   "set OTEL_EXPORTER_OTLP_TIMEOUT to at most 3000 (ms)"},
		{name: "the batch processor's, set too long", yaml: api(f + endpoint + "{name: OTEL_EXPORTER_OTLP_TIMEOUT, value: '2000'}, {name: OTEL_BSP_EXPORT_TIMEOUT, value: '5000'}, "), fires: true,
			field: "spec.template.spec.containers[name=api].env[OTEL_BSP_EXPORT_TIMEOUT]",
			says:  []string{"may wait 5s", "env OTEL_BSP_EXPORT_TIMEOUT"}},
		{name: "the traces' own timeout wins", yaml: api(f + "{name: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, value: 'http://c:4318/v1/traces'}, {name: OTEL_EXPORTER_OTLP_TIMEOUT, value: '2000'}, {name: OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, value: '9000'}, {name: OTEL_BSP_EXPORT_TIMEOUT, value: '2000'}, "), fires: true,
			field: "spec.template.spec.containers[name=api].env[OTEL_EXPORTER_OTLP_TRACES_TIMEOUT]",
			says:  []string{"may wait 9s"}},
		{name: "not a number", yaml: api(f + endpoint + "{name: OTEL_EXPORTER_OTLP_TIMEOUT, value: 2s}, {name: OTEL_BSP_EXPORT_TIMEOUT, value: '2000'}, "), fires: true,
			says: []string{`"2s" is not a number of milliseconds`}},
	})
}
