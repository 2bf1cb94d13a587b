package listeners

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestOpenReportsKernelChosenPorts(t *testing.T) {
	s, err := Open("127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a := s.Addrs()
	seen := map[string]bool{}
	for _, addr := range []string{a.HTTP, a.GRPC, a.Health} {
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host != "127.0.0.1" || port == "0" {
			t.Errorf("bound address %q: want 127.0.0.1 and the port the kernel chose", addr)
		}
		seen[addr] = true
		// The address is really bound: connecting to it works.
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Errorf("dial %s: %v", addr, err)
			continue
		}
		_ = conn.Close()
	}
	if len(seen) != 3 {
		t.Errorf("addresses %+v are not distinct", a)
	}
}

func TestOpenIsAllOrNothing(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	// The first listener opens, the second fails: the first must be closed
	// again, or it holds its port (and a file descriptor) for nothing.
	before := openFiles(t)
	_, err = Open("127.0.0.1:0", busy.Addr().String(), "127.0.0.1:0")
	if err == nil || !strings.Contains(err.Error(), "listen on "+busy.Addr().String()) {
		t.Fatalf("Open with a busy port = %v, want an error naming it", err)
	}
	if after := openFiles(t); after != before {
		t.Errorf("%d file descriptors open after the failed Open, %d before: a listener was left open", after, before)
	}
}

// openFiles counts this process's open file descriptors.
func openFiles(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

func TestWriteFileIsAtomicAndWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "addrs.json")
	want := Addrs{HTTP: "127.0.0.1:1", GRPC: "127.0.0.1:2", Health: "127.0.0.1:3"}
	for range 2 { // the second write replaces the first
		if err := WriteFile(path, want); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got Addrs
	if err := json.Unmarshal(b, &got); err != nil || got != want || !strings.HasSuffix(string(b), "}\n") {
		t.Errorf("file %q = %+v (%v), want %+v on one line", b, got, err, want)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	if err := WriteFile(filepath.Join(t.TempDir(), "missing", "addrs.json"), want); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}

func TestWriteFileToAPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	want := Addrs{HTTP: "[::1]:80", GRPC: "[::1]:81", Health: "[::1]:82"}
	// As a child process sees the pipe its parent handed down as fd N.
	if err := WriteFile("/dev/fd/"+strconv.Itoa(int(w.Fd())), want); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(r).ReadBytes('\n')
	if err != nil {
		t.Fatal(err)
	}
	var got Addrs
	if err := json.Unmarshal(line, &got); err != nil || got != want {
		t.Errorf("read %q = %+v (%v), want %+v", line, got, err, want)
	}
}
