// Package listeners opens the service's three ports together and tells the
// world where they ended up. Ports given as 0 are chosen by the kernel, so
// several copies of the service run side by side on one host (tests, local
// experiments) without anyone guessing a free port: the addresses it bound
// are written to a file once every listener is open.
package listeners

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// Set is the service's listeners, all open.
type Set struct {
	HTTP, GRPC, Health net.Listener
}

// Addrs is where each listener is bound, as written to the address file.
type Addrs struct {
	HTTP   string `json:"http"`
	GRPC   string `json:"grpc"`
	Health string `json:"health"`
}

// Open listens on all three addresses, or on none: a port that cannot be
// bound fails the start with nothing half-running.
func Open(httpAddr, grpcAddr, healthAddr string) (Set, error) {
	var open []net.Listener
	for _, addr := range []string{httpAddr, grpcAddr, healthAddr} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, l := range open {
				_ = l.Close()
			}
			return Set{}, fmt.Errorf("listen on %s: %w", addr, err)
		}
		open = append(open, ln)
	}
	return Set{HTTP: open[0], GRPC: open[1], Health: open[2]}, nil
}

// Addrs reports the bound addresses, with the kernel's choice for any port 0.
func (s Set) Addrs() Addrs {
	return Addrs{HTTP: s.HTTP.Addr().String(), GRPC: s.GRPC.Addr().String(), Health: s.Health.Addr().String()}
}

// Close closes every listener; servers that own them close them instead.
func (s Set) Close() error {
	return errors.Join(s.HTTP.Close(), s.GRPC.Close(), s.Health.Close())
}

// WriteFile writes a as one line of JSON to path. A regular file (or a new
// one) is replaced atomically, so that a reader that sees the file sees all
// of it; anything else, such as a pipe or /dev/fd/N handed down by the
// parent process, is written in place, so that the parent can wait for the
// line without polling.
func WriteFile(path string, a Addrs) error {
	line, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode addresses: %w", err)
	}
	line = append(line, '\n')
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("open address file: %w", err)
		}
		_, err = f.Write(line)
		return errors.Join(wrap(err), wrap(f.Close()))
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write address file: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	_, err = tmp.Write(line)
	if err = errors.Join(err, tmp.Chmod(0o644), tmp.Close()); err != nil {
		return wrap(err)
	}
	return wrap(os.Rename(tmp.Name(), path))
}

func wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("write address file: %w", err)
}
