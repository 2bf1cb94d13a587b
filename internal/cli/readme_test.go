package cli

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadmeOpensWithTwoCommands keeps the README's promise: its first lines
// give exactly the two set-up commands, and they are Makefile targets.
func TestReadmeOpensWithTwoCommands(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(readme), "\n")
	if len(lines) < 6 || lines[2] != "```sh" || !strings.HasPrefix(lines[3], "make demo ") || !strings.HasPrefix(lines[4], "make test ") || lines[5] != "```" {
		t.Fatalf("README must open with a title and a sh block of `make demo` and `make test`; it opens with:\n%s", strings.Join(lines[:min(6, len(lines))], "\n"))
	}
	makefile, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"demo:", "test:"} {
		if !bytes.Contains(makefile, []byte("\n"+target)) {
			t.Errorf("Makefile has no %s target", target)
		}
	}
}

// TestMakeDemo runs the README's first command as written: it must generate a
// service, serve it, and stop cleanly on Ctrl-C. The demo listens on ports
// that the kernel picks and says where in an address file, so that the test
// never collides with whatever else holds 8080.
func TestMakeDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and runs a service")
	}
	tmp := t.TempDir()
	demoDir, addrFile := filepath.Join(tmp, "demo"), filepath.Join(tmp, "addrs.json")
	cmd := exec.Command("make", "-C", "../..", "demo", "DEMO_DIR="+demoDir,
		"DEMO_FLAGS=-http-addr=127.0.0.1:0 -grpc-addr=127.0.0.1:0 -health-addr=127.0.0.1:0 -addr-file="+addrFile)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Ctrl-C reaches the whole group
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }()

	// The file appears whole (it is renamed into place) once the service
	// listens; before that, make is still generating and building.
	var addrs struct{ HTTP, Health string }
	deadline := time.NewTimer(3 * time.Minute)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(addrFile); err == nil {
			if err := json.Unmarshal(b, &addrs); err != nil {
				t.Fatalf("address file %q: %v", b, err)
			}
			break
		}
		select {
		case err := <-done:
			t.Fatalf("make demo exited early: %v\n%s", err, out.String())
		case <-deadline.C:
			t.Fatalf("the demo service never listened:\n%s", out.String())
		case <-tick.C:
		}
	}
	ready := false
	for !ready {
		if resp, err := http.Get("http://" + addrs.Health + "/readyz"); err == nil {
			_ = resp.Body.Close()
			ready = resp.StatusCode == http.StatusOK
		}
		select {
		case err := <-done:
			t.Fatalf("make demo exited early: %v\n%s", err, out.String())
		case <-deadline.C:
			t.Fatalf("the demo service never became ready:\n%s", out.String())
		case <-tick.C:
		}
	}
	resp, err := http.Get("http://" + addrs.HTTP + "/")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Version") == "" {
		t.Errorf("GET / = %s, X-Version %q", resp.Status, resp.Header.Get("X-Version"))
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	// make itself reports the interrupt and exits non-zero, as it does for
	// any Ctrl-C; what matters is that the service drained and stopped.
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("make demo did not stop after Ctrl-C:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "shutdown: complete") {
		t.Errorf("the demo did not drain and stop cleanly:\n%s", out.String())
	}
}
