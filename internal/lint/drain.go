package lint

import (
	"fmt"
	"time"
)

// drainSleep is the preStop sleep drain-missing suggests where the grace
// period has room for it: enough for endpoint removal to reach an ingress.
const drainSleep = 10 * time.Second

// drainFix suggests a preStop sleep that fits the grace period the pod
// has, with the rest of its shutdown (t: no drain yet), so that following
// the advice does not trade drain-missing for grace-budget: the full sleep
// where it fits, the room left where that is still a drain (minDrainDelay),
// else the full sleep with the grace period it needs.
func drainFix(t timeline, native bool) string {
	room := (t.grace - t.total).Truncate(time.Second)
	sleep, grace := drainSleep, ""
	switch {
	case room >= drainSleep:
	case room >= minDrainDelay:
		sleep = room
	default:
		need := (t.total + drainSleep + time.Second - 1).Truncate(time.Second)
		grace = fmt.Sprintf(" and raise terminationGracePeriodSeconds to %d (the shutdown already takes %s of its %s)", int(need.Seconds()), seconds(t.total), seconds(t.grace))
	}
	n := int(sleep.Seconds())
	if native {
		return fmt.Sprintf("add lifecycle.preStop.sleep.seconds: %d%s, or have the app keep serving for a drain delay after SIGTERM (the generated service reads SHUTDOWN_DELAY)", n, grace)
	}
	return fmt.Sprintf("have the app keep serving for a drain delay after SIGTERM (the generated service reads SHUTDOWN_DELAY), or, if the image has a shell, add a preStop exec of sleep %d%s (the native sleep action needs Kubernetes 1.30)", n, grace)
}

// describe says what drain-missing sees of a hook that holds no drain.
func (h preStopHook) describe() string {
	switch {
	case h.execSleep:
		return fmt.Sprintf("a preStop hook (%q) that sleeps for no time the linter can read", h.command)
	case h.command != "":
		return fmt.Sprintf("a preStop hook (%q) with no sleep in it", h.command)
	}
	return "no preStop hook"
}
