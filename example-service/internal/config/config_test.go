package config

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func parse(args []string, env map[string]string) (Config, error) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return Parse(fs, args, func(k string) string { return env[k] })
}

func TestDefaults(t *testing.T) {
	c, err := parse(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		HTTPAddr: ":8080", GRPCAddr: ":9090", HealthAddr: ":8081",
		ShutdownDelay: 10 * time.Second, ShutdownTimeout: 15 * time.Second, CleanupTimeout: 3 * time.Second,
		GRPCMaxConnectionAge: time.Minute, GRPCMaxConnectionAgeGrace: time.Hour, TerminationLog: "/dev/termination-log", Version: "dev",
	}
	if c != want {
		t.Errorf("defaults = %+v, want %+v", c, want)
	}
}

func TestPrecedence(t *testing.T) {
	env := map[string]string{"SHUTDOWN_DELAY": "3s", "HTTP_ADDR": ":1111", "SERVICE_VERSION": "v7"}
	c, err := parse([]string{"-http-addr=:2222"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != ":2222" {
		t.Errorf("flag should win over env: HTTPAddr = %q", c.HTTPAddr)
	}
	if c.ShutdownDelay != 3*time.Second || c.Version != "v7" {
		t.Errorf("env should win over defaults: %+v", c)
	}
}

// TestFlagHidesMalformedEnv: a flag that overrides a malformed environment
// value is what the service runs with, so the value is never read.
func TestFlagHidesMalformedEnv(t *testing.T) {
	env := map[string]string{"SHUTDOWN_TIMEOUT": "soon", "GRPC_REFLECTION": "maybe"}
	c, err := parse([]string{"-shutdown-timeout=4s", "-grpc-reflection=false"}, env)
	if err != nil {
		t.Fatalf("a flag overrides the malformed env value, yet Parse failed: %v", err)
	}
	if c.ShutdownTimeout != 4*time.Second {
		t.Errorf("ShutdownTimeout = %v, want the flag's 4s", c.ShutdownTimeout)
	}
	if _, err := parse(nil, env); err == nil {
		t.Error("a malformed env value that no flag overrides was accepted")
	}
}

func TestInvalid(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"malformed env duration", nil, map[string]string{"SHUTDOWN_TIMEOUT": "soon"}, `SHUTDOWN_TIMEOUT="soon" is not a valid --shutdown-timeout: parse error; use a duration such as 10s or 500ms`},
		{"malformed flag duration", []string{"-cleanup-timeout=x"}, nil, `invalid value "x" for flag -cleanup-timeout`},
		{"negative delay", []string{"-shutdown-delay=-1s"}, nil, "--shutdown-delay -1s is negative"},
		{"zero timeout", []string{"-shutdown-timeout=0"}, nil, "--shutdown-timeout 0s must be positive"},
		{"bad address", []string{"-grpc-addr=9090"}, nil, `--grpc-addr "9090"`},
		{"same address", []string{"-grpc-addr=:8080"}, nil, `--http-addr and --grpc-addr are both ":8080"`},
		{"empty version", nil, map[string]string{}, ""},
		{"stray argument", []string{"now"}, nil, `unexpected arguments ["now"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(tt.args, tt.env)
			if tt.want == "" {
				if err != nil {
					t.Errorf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
