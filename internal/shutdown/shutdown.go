// Package shutdown declares, once, the shutdown budget of a generated
// service: the defaults of its drain delay D, graceful-stop timeout S and
// cleanup timeout F that scaffold new writes into the service and its
// manifests, the settings that carry them, and the margin M that the pod's
// terminationGracePeriodSeconds keeps above D + S + F. render writes them and
// lint checks manifests against them, so the two cannot disagree.
package shutdown

import "time"

// The defaults of D, S and F.
const (
	Delay   = 10 * time.Second // D: endpoint removal reaches every router
	Timeout = 15 * time.Second // S: graceful drain bound
	Cleanup = 3 * time.Second  // F: cleanup bound
)

// Margin is M: the time the process needs to exit after F, flush its logs,
// and absorb the kubelet's timing jitter before SIGKILL. It is a variable so
// that a test can move it and see render and lint follow; nothing else
// changes it.
var Margin = 2 * time.Second

// A Setting is one of D, S and F as the service reads it: an environment
// variable, and the flag that wins over it.
type Setting struct {
	Env, Flag string
}

// The settings behind D, S and F.
var (
	DelaySetting   = Setting{Env: "SHUTDOWN_DELAY", Flag: "shutdown-delay"}
	TimeoutSetting = Setting{Env: "SHUTDOWN_TIMEOUT", Flag: "shutdown-timeout"}
	CleanupSetting = Setting{Env: "CLEANUP_TIMEOUT", Flag: "cleanup-timeout"}
)
