// Package proc starts the servers under test as real processes, pinned to a
// CPU of their own, and reads what only the kernel knows about them: when
// they answer, how much memory and CPU time they hold, and how long they take
// to exit after SIGTERM.
package proc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat's CPU times; it is 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// Process is a running server.
type Process struct {
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{}
	waitErr error
	log     *os.File
	addrs   *os.File // read end of the pipe the server reports its addresses on
}

// AddrFile is the path under which a server started here finds the write end
// of a pipe: it writes one line there, the JSON of the addresses it bound,
// once every listener is open. Servers listen on port 0, so no port is ever
// guessed, and the line arrives the moment they listen.
const AddrFile = "/dev/fd/3"

// Start runs bin with args, its stderr and stdout going to logPath. When cpus
// is not empty the process is confined to those CPUs from its first
// instruction: the fork happens on an OS thread that carries that affinity,
// and the child inherits it, so the Go runtime in the child sizes GOMAXPROCS
// to it as well.
func Start(bin string, args []string, cpus []int, logPath string) (*Process, error) {
	return StartEnv(bin, args, nil, cpus, logPath)
}

// StartEnv is Start with env added to this process's environment.
func StartEnv(bin string, args, env []string, cpus []int, logPath string) (*Process, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create server log: %w", err)
	}
	addrR, addrW, err := os.Pipe()
	if err != nil {
		_ = log.Close()
		return nil, fmt.Errorf("address pipe: %w", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.ExtraFiles = []*os.File{addrW} // fd 3, AddrFile
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	p := &Process{cmd: cmd, done: make(chan struct{}), log: log, addrs: addrR}
	err = startOn(cmd, cpus, &p.started)
	_ = addrW.Close() // the child has its own copy
	if err != nil {
		_ = log.Close()
		_ = addrR.Close()
		return nil, fmt.Errorf("start %s: %w", filepath.Base(bin), err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		_ = log.Close()
		close(p.done)
	}()
	return p, nil
}

// startOn starts cmd from a thread pinned to cpus, recording the moment just
// before the fork in started.
func startOn(cmd *exec.Cmd, cpus []int, started *time.Time) error {
	if len(cpus) == 0 {
		*started = time.Now()
		return cmd.Start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return fmt.Errorf("read affinity: %w", err)
	}
	if err := unix.SchedSetaffinity(0, cpuSet(cpus)); err != nil {
		return fmt.Errorf("pin to CPUs %v: %w", cpus, err)
	}
	*started = time.Now()
	startErr := cmd.Start()
	// Put the thread back before it returns to the scheduler's pool.
	if err := unix.SchedSetaffinity(0, &old); err != nil {
		return errors.Join(startErr, fmt.Errorf("restore affinity: %w", err))
	}
	return startErr
}

func cpuSet(cpus []int) *unix.CPUSet {
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	return &set
}

// PinSelf confines every thread of this process to cpus. Threads made later
// are made by pinned threads and inherit the mask. It also sets GOMAXPROCS
// to match, since the runtime sized it at start-up from the wider mask.
func PinSelf(cpus []int) error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return fmt.Errorf("list threads: %w", err)
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		// A thread may exit between the listing and the call.
		if err := unix.SchedSetaffinity(tid, cpuSet(cpus)); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("pin thread %d to CPUs %v: %w", tid, cpus, err)
		}
	}
	runtime.GOMAXPROCS(len(cpus))
	return nil
}

// Addrs waits for the line the server writes to AddrFile and returns it. It
// fails at once if the server exits first (the pipe's last writer closes).
func (p *Process) Addrs(ctx context.Context) ([]byte, error) {
	defer p.addrs.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = p.addrs.SetReadDeadline(deadline)
	}
	line, err := bufio.NewReader(p.addrs).ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("%s reported no addresses: %w (log: %s)", filepath.Base(p.cmd.Path), err, p.log.Name())
	}
	return line, nil
}

// NoAddrs lets go of the address pipe of a server that will never write to
// it, one that listens on fixed ports.
func (p *Process) NoAddrs() { _ = p.addrs.Close() }

// PID is the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// WaitReady polls url until it answers 200, and returns the time from the
// fork to that answer. Each poll opens a new connection, so that none is
// left idle in the server to skew its shutdown.
func (p *Process) WaitReady(ctx context.Context, url string) (time.Duration, error) {
	client := &http.Client{
		Transport: &http.Transport{DisableKeepAlives: true},
		Timeout:   time.Second,
	}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return 0, fmt.Errorf("readiness request: %w", err)
		}
		resp, err := client.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(p.started), nil
			}
		}
		select {
		case <-p.done:
			return 0, fmt.Errorf("exited before ready: %w", p.exitErr())
		case <-ctx.Done():
			return 0, fmt.Errorf("not ready at %s: %w", url, ctx.Err())
		case <-time.After(500 * time.Microsecond):
		}
	}
}

// Memory is what /proc/PID/status says of the process's resident memory.
type Memory struct {
	// RSS is VmRSS, resident now; Peak is VmHWM, the most ever resident.
	RSS, Peak int64 // bytes
}

// Memory reads VmRSS and VmHWM.
func (p *Process) Memory() (Memory, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.PID()))
	if err != nil {
		return Memory{}, fmt.Errorf("read status: %w", err)
	}
	var m Memory
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch key {
		case "VmRSS":
			dst = &m.RSS
		case "VmHWM":
			dst = &m.Peak
		default:
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("parse %s %q: %w", key, val, err)
		}
		*dst = kb << 10
	}
	return m, nil
}

// CPUTime is the user plus system CPU time the process has used so far.
func (p *Process) CPUTime() (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.PID()))
	if err != nil {
		return 0, fmt.Errorf("read stat: %w", err)
	}
	// The command name may hold spaces; the fields after it are fixed.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse stat %q", data)
	}
	f := strings.Fields(string(data[i+1:]))
	// utime and stime are fields 14 and 15; f[0] is field 3.
	if len(f) < 13 {
		return 0, fmt.Errorf("parse stat %q", data)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse stat CPU time %q: %w", s, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// Terminate sends SIGTERM and returns the time from the signal until the
// kernel reports the process gone, and when that was. A process still
// running after limit is killed, and reported as an error.
func (p *Process) Terminate(limit time.Duration) (time.Duration, time.Time, error) {
	sent := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return 0, time.Time{}, fmt.Errorf("send SIGTERM: %w", err)
	}
	select {
	case <-p.done:
		exited := time.Now()
		return exited.Sub(sent), exited, p.exitErr()
	case <-time.After(limit):
		p.Kill()
		return 0, time.Time{}, fmt.Errorf("still running %v after SIGTERM; killed", limit)
	}
}

// Wait waits up to limit for the process to exit by itself, and returns the
// time from its start; for commands that run to completion.
func (p *Process) Wait(ctx context.Context, limit time.Duration) (time.Duration, error) {
	select {
	case <-p.done:
	case <-time.After(limit):
		p.Kill()
		return 0, fmt.Errorf("still running after %v; killed", limit)
	case <-ctx.Done():
		p.Kill()
		return 0, ctx.Err()
	}
	// The kernel's exit precedes the wake-up; the difference is scheduling.
	return time.Since(p.started), p.exitErr()
}

// Kill ends the process at once, if it is still running, and waits for it;
// for clean-up, so it may be deferred right after a start.
func (p *Process) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

func (p *Process) exitErr() error {
	if p.waitErr != nil {
		return fmt.Errorf("%s: %w (log: %s)", filepath.Base(p.cmd.Path), p.waitErr, p.log.Name())
	}
	return nil
}
