package lint

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestDrainMissingSaysWhatItSees: drain-missing says what the manifest
// shows (no preStop hook, no drain delay the linter knows) rather than that
// the app stops at once, which an app draining in-process does not; and its
// fix fits the grace period there, so that following it draws neither
// drain-missing nor grace-budget on the next run (issue #26).
func TestDrainMissingSaysWhatItSees(t *testing.T) {
	pod := func(grace, env string) string {
		return "      terminationGracePeriodSeconds: " + grace + `
      containers:
      - name: web
        image: web:1.0
        ports: [{name: http, containerPort: 8080}]
` + env
	}
	const svc = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {selector: {app: web}, ports: [{port: 80, targetPort: http}]}\n"
	timeout := func(s string) string { return "        env: [{name: SHUTDOWN_TIMEOUT, value: " + s + "}]\n" }
	tests := []struct {
		name      string
		grace     string
		env       string
		sleep     int
		raiseTo   int // 0: the grace period stays
		kubeMinor string
	}{
		{name: "the default grace period has room for 10s", grace: "30", sleep: 10},
		{name: "a grace period with room for less", grace: "15", env: timeout("5s"), sleep: 8},                     // 15 - (5 + 2)
		{name: "a grace period with no room for a drain", grace: "10", env: timeout("5s"), sleep: 10, raiseTo: 17}, // 5 + 2 + 10
		{name: "before the native sleep action", grace: "10", env: timeout("5s"), sleep: 10, raiseTo: 17, kubeMinor: "1.29"},
	}
	sleepRE := regexp.MustCompile(`sleep(?:\.seconds:)? (\d+)`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yaml := web("", pod(tt.grace, tt.env), svc)
			r := lintString(t, yaml, Options{KubeVersion: tt.kubeMinor})
			f, ok := findingOf(r, "drain-missing")
			if !ok {
				t.Fatalf("drain-missing did not fire:\n%s", text(t, r))
			}
			if strings.Contains(f.Message, "stops at once") || !strings.Contains(f.Message, "no preStop hook") || !strings.Contains(f.Message, "no drain delay the linter knows") {
				t.Errorf("message %q: want what the manifest shows, not that the app stops at once", f.Message)
			}
			m := sleepRE.FindStringSubmatch(f.Fix)
			if m == nil || m[1] != strconv.Itoa(tt.sleep) {
				t.Fatalf("fix %q: want a sleep of %d", f.Fix, tt.sleep)
			}
			if raise := "terminationGracePeriodSeconds to " + strconv.Itoa(tt.raiseTo); (tt.raiseTo > 0) != strings.Contains(f.Fix, raise) {
				t.Errorf("fix %q: raises the grace period to %d: %v", f.Fix, tt.raiseTo, tt.raiseTo > 0)
			}
			if tt.kubeMinor != "" {
				return // an exec of sleep needs a shell: the image decides, not the manifest
			}

			// Follow the fix, and lint again.
			grace := tt.grace
			if tt.raiseTo > 0 {
				grace = strconv.Itoa(tt.raiseTo)
			}
			fixed := web("", pod(grace, tt.env)+"        lifecycle: {preStop: {sleep: {seconds: "+m[1]+"}}}\n", svc)
			r = lintString(t, fixed, Options{})
			for _, rule := range []string{"drain-missing", "grace-budget", "drain-short"} {
				if f, ok := findingOf(r, rule); ok {
					t.Errorf("after the fix, %s fires: %s", rule, f.Message)
				}
			}
		})
	}

	// A hook that does something else is named as it is, not as missing.
	f, _ := lintFires(t, web("", pod("30", "        lifecycle: {preStop: {exec: {command: [/app/flush]}}}\n"), svc), "drain-missing", true)
	if !strings.Contains(f.Message, `a preStop hook ("/app/flush") with no sleep in it`) {
		t.Errorf("message %q: want the hook named", f.Message)
	}
}
