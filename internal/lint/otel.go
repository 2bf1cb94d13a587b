package lint

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// A service that exports traces flushes the spans still queued as one of
// its cleanup steps, within its cleanup timeout F. The OpenTelemetry SDK
// waits for the collector as long as its own timeouts say, whatever F is:
// an export still waiting when F runs out is abandoned with the process,
// and its spans, those of the requests served during the drain among them,
// are lost. The defaults (10 s for the OTLP exporter, 30 s for the batch
// processor's export) are longer than any usual F.

// otelTimeout is one of the SDK's export timeouts: its variables, most
// specific first, and its default.
type otelTimeout struct {
	vars []string
	def  time.Duration
}

var otelTimeouts = []otelTimeout{
	{[]string{"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"}, 10 * time.Second},
	{[]string{"OTEL_BSP_EXPORT_TIMEOUT"}, 30 * time.Second},
}

func otelRules() []Rule {
	return []Rule{
		{ID: "otel-export-timeout", Severity: Warning, check: checkOTelExportTimeout,
			Summary: "a container that exports traces over OTLP waits for the collector no longer than its cleanup timeout (CLEANUP_TIMEOUT): OTEL_EXPORTER_OTLP_TIMEOUT and OTEL_BSP_EXPORT_TIMEOUT, in ms, within it, or the spans still queued at shutdown are lost with a slow collector"},
	}
}

func checkOTelExportTimeout(ix *index, e *emitter) {
	ix.forEachContainer(func(w *workload, c *corev1.Container) {
		if !ix.env(w.obj, c, "OTEL_EXPORTER_OTLP_ENDPOINT").set && !ix.env(w.obj, c, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").set {
			return // no export, or one the input does not show
		}
		t := ix.timeline(w, c)
		if t.cleanupFrom == "" || t.cleanup <= 0 {
			return
		}
		for _, ot := range otelTimeouts {
			name, timeout, from := ot.vars[len(ot.vars)-1], ot.def, "its default"
			for _, v := range ot.vars {
				ev := ix.env(w.obj, c, v)
				if !ev.set {
					continue
				}
				ms, err := strconv.Atoi(strings.TrimSpace(ev.value))
				if err != nil || ms < 0 {
					e.addf(w.obj, w.containerPath(c)+".env["+v+"]", "give a whole number of milliseconds, e.g. "+strconv.Itoa(int(t.cleanup.Milliseconds()*2/3)),
						"container %s: %s %q is not a number of milliseconds, so the OpenTelemetry SDK ignores it and waits %s", c.Name, v, ev.value, seconds(ot.def))
					timeout = -1
					break
				}
				name, timeout, from = v, time.Duration(ms)*time.Millisecond, ev.from
				break
			}
			if timeout <= t.cleanup {
				continue
			}
			e.addf(w.obj, w.containerPath(c)+".env["+name+"]",
				fmt.Sprintf("set %s to at most %d (ms), the cleanup timeout %s", name, t.cleanup.Milliseconds(), t.cleanupFrom),
				"container %s exports traces and may wait %s for the collector (%s, %s), longer than its cleanup timeout %s (%s): at shutdown, a slow collector holds the flush past it, and the spans still queued, those of the requests served while draining among them, are lost",
				c.Name, seconds(timeout), name, from, seconds(t.cleanup), t.cleanupFrom)
		}
	})
}
