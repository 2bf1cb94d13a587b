package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// stressEnv holds the number of times TestStressGeneratedService runs each
// test of the generated suite; the test is skipped when it is unset, because
// it takes minutes. make stress sets it.
const stressEnv = "ZERODROP_STRESS_COUNT"

// TestStressGeneratedService renders a service under a name no other test
// uses and runs its whole suite with -race -count=N while a CPU hog of this
// process keeps one core busy: a generated service's tests must pass every
// time on a busy machine, not just on a quiet one. Every failed run of any
// test, and any package that fails after its tests (goleak), fails this test.
func TestStressGeneratedService(t *testing.T) {
	n, err := strconv.Atoi(os.Getenv(stressEnv))
	if os.Getenv(stressEnv) == "" {
		t.Skip(stressEnv + " is not set (make stress sets it)")
	}
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a whole number of runs, 1 or more", stressEnv, os.Getenv(stressEnv))
	}
	name := fmt.Sprintf("stress-%06x", rand.IntN(1<<24))
	dir := filepath.Join(t.TempDir(), name)
	if _, stderr, code := runCLI(t, "new", name, "--module", "example.com/stress/"+name, "-o", dir); code != ExitOK {
		t.Fatalf("scaffold new: exit %d: %s", code, stderr)
	}
	// Compile first, without the hog, so that the hog weighs on the tests.
	build := exec.Command("go", "test", "-race", "-count=1", "-run=^$", "./...")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the tests: %v\n%s", err, out)
	}

	stopHog, spins := startHog(t)
	started := time.Now()
	cmd := exec.Command("go", "test", "-race", "-count="+strconv.Itoa(n), "-timeout=60m", "-json", "./...")
	cmd.Dir = dir
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	results := readTestEvents(t, stdout)
	waitErr := cmd.Wait()
	stopHog()
	took := time.Since(started)

	t.Logf("%s: go test -race -count=%d ./... took %v with a CPU hog on CPU %d (%d Mspins)", name, n, took.Round(time.Second), hogCPU(), spins.Load()/1e6)
	var runs, failed int
	for _, key := range results.keys() {
		r := results.byTest[key]
		if _, test, _ := strings.Cut(key, " "); !strings.Contains(test, "/") {
			runs += r.pass + r.fail // subtests are part of their test's run
		}
		failed += r.fail
		t.Logf("  %-70s %3d passed, %d failed", key, r.pass, r.fail)
		if r.fail > 0 {
			t.Errorf("%s failed %d of %d runs:\n%s", key, r.fail, r.pass+r.fail, r.failOutput)
		}
	}
	for _, pkg := range results.failedPackages {
		t.Errorf("package %s failed outside its tests:\n%s", pkg, results.packageOutput[pkg])
	}
	t.Logf("stress: %d test runs, %d failed, %d packages failed outside their tests", runs, failed, len(results.failedPackages))
	if waitErr != nil && failed == 0 && len(results.failedPackages) == 0 {
		t.Errorf("go test: %v\n%s", waitErr, stderr.String())
	}
	if runs == 0 {
		t.Error("no test ran")
	}
}

// hogCPU is the CPU the hog spins on: the last one, so that a machine's
// first CPU, where the kernel tends to put interrupts, is left to the tests.
func hogCPU() int { return runtime.NumCPU() - 1 }

// startHog spins one OS thread, pinned to hogCPU, until stop is called.
func startHog(t *testing.T) (stop func(), spins *atomic.Int64) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	spins = new(atomic.Int64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // the thread dies with the goroutine, pinned
		var set unix.CPUSet
		set.Set(hogCPU())
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			t.Errorf("pin the CPU hog: %v", err)
			return
		}
		for ctx.Err() == nil {
			for range 1 << 16 {
				spins.Add(1)
			}
		}
	}()
	return func() { cancel(); <-done }, spins
}

// testResult counts the outcomes of one test over every run.
type testResult struct {
	pass, fail int
	failOutput string
}

type testEvents struct {
	byTest         map[string]*testResult // "package Test/sub"
	failedPackages []string
	packageOutput  map[string]string
}

func (e *testEvents) keys() []string {
	var keys []string
	for k := range e.byTest {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// readTestEvents reads go test -json output (test2json events) to the end.
// A failed run keeps its output, which is what the test prints.
func readTestEvents(t *testing.T, r io.Reader) *testEvents {
	t.Helper()
	e := &testEvents{byTest: map[string]*testResult{}, packageOutput: map[string]string{}}
	running := map[string]*strings.Builder{} // output of the current run of each test
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var ev struct {
			Action, Package, Test, Output string
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			continue // the go command's own lines, such as build errors, on stdout
		}
		short := strings.TrimPrefix(ev.Package, "example.com/stress/")
		key := short + " " + ev.Test
		if ev.Test == "" {
			switch ev.Action {
			case "output":
				e.packageOutput[short] += ev.Output
			case "fail":
				if !e.packageHasFailedTest(short) {
					e.failedPackages = append(e.failedPackages, short)
				}
			}
			continue
		}
		r := e.byTest[key]
		if r == nil {
			r = &testResult{}
			e.byTest[key] = r
		}
		switch ev.Action {
		case "run":
			running[key] = &strings.Builder{}
		case "output":
			if b := running[key]; b != nil {
				b.WriteString(ev.Output)
			}
		case "pass", "skip":
			r.pass++
		case "fail":
			r.fail++
			if b := running[key]; b != nil && len(r.failOutput) < 64<<10 {
				r.failOutput += b.String()
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read go test -json: %v", err)
	}
	return e
}

func (e *testEvents) packageHasFailedTest(pkg string) bool {
	for k, r := range e.byTest {
		if strings.HasPrefix(k, pkg+" ") && r.fail > 0 {
			return true
		}
	}
	return false
}
