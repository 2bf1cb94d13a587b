package lint

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestGraceBudgetProperty checks the budget arithmetic over random timings:
// grace-budget fires exactly when preStop + D + S + F + 2s margin exceeds
// terminationGracePeriodSeconds, whether the timings come from a ConfigMap,
// env or args.
func TestGraceBudgetProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		pre, d, s, f, grace := r.IntN(15), r.IntN(20), r.IntN(30), r.IntN(6), 1+r.IntN(80)
		via := i % 3
		var env, args, cm string
		switch via {
		case 0:
			cm = fmt.Sprintf("data: {SHUTDOWN_DELAY: %ds, SHUTDOWN_TIMEOUT: %ds, CLEANUP_TIMEOUT: \"%d\"}", d, s, f)
		case 1:
			env = fmt.Sprintf(`env: [{name: SHUTDOWN_DELAY, value: %ds}, {name: SHUTDOWN_TIMEOUT, value: %ds}, {name: CLEANUP_TIMEOUT, value: %ds}]`, d, s, f)
		case 2:
			args = fmt.Sprintf(`args: [-shutdown-delay=%ds, --shutdown-timeout, %ds, --cleanup-timeout=%ds]`, d, s, f)
		}
		if cm == "" {
			cm = "data: {}"
		}
		hook := ""
		if pre > 0 {
			hook = fmt.Sprintf("lifecycle: {preStop: {sleep: {seconds: %d}}}", pre)
		}
		in := loadString(t, fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
%s
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  selector: {matchLabels: {app: d}}
  template:
    metadata: {labels: {app: d}}
    spec:
      terminationGracePeriodSeconds: %d
      containers:
      - name: app
        image: app:1
        envFrom: [{configMapRef: {name: cfg}}]
        %s
        %s
        %s
`, cm, grace, env, args, hook))
		if len(in.problems) > 0 {
			t.Fatalf("case %d does not decode: %+v", i, in.problems)
		}
		rep, err := Lint(in, Options{})
		if err != nil {
			t.Fatal(err)
		}
		got := slices.ContainsFunc(rep.Findings, func(f Finding) bool { return f.Rule == "grace-budget" })
		if want := pre+d+s+f+2 > grace; got != want {
			t.Errorf("preStop %d + D %d + S %d + F %d + 2 vs T %d (via %d): grace-budget %v, want %v", pre, d, s, f, grace, via, got, want)
		}
	}
}
