// Package config reads example-service's settings from flags, each of which falls back
// to an environment variable, so that the same binary runs from a shell and from
// a Kubernetes pod spec without a config file.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"strings"
	"time"
)

// Config is every setting of the service. Use Parse to fill it.
type Config struct {
	HTTPAddr   string // traffic: HTTP API
	GRPCAddr   string // traffic: gRPC API and grpc.health.v1
	HealthAddr string // probes and metrics: /livez, /readyz, /metrics
	// AddrFile, if set, receives the bound addresses as one line of JSON once
	// every listener is open: with port 0 the kernel picks free ports, and
	// this is how whoever started the process learns them.
	AddrFile string

	// ShutdownDelay (D) is how long the service keeps serving after readiness
	// fails, so that endpoint removal reaches kube-proxy, DNS and load balancers
	// before any listener closes.
	ShutdownDelay time.Duration
	// ShutdownTimeout (S) bounds the graceful drain; after it, connections and
	// streams are closed hard.
	ShutdownTimeout time.Duration
	// CleanupTimeout (F) bounds cleanup after the servers have stopped.
	CleanupTimeout time.Duration

	// GRPCMaxConnectionAge makes clients reconnect and re-resolve periodically,
	// so that round_robin clients spread onto new replicas after a scale-up.
	GRPCMaxConnectionAge time.Duration
	// GRPCMaxConnectionAgeGrace is how long calls and streams may go on over
	// a connection past its age; new calls move to a new connection at once.
	// It is not the shutdown timeout S: a stream may last far longer
	// than a drain, and cutting it every minute or so helps nobody.
	GRPCMaxConnectionAgeGrace time.Duration

	// GRPCReflection serves grpc.reflection on the gRPC port, for grpcurl
	// and the like. It lets anyone who reaches the port list the API, so it
	// is off by default and in production; the dev overlay and make run
	// turn it on.
	GRPCReflection bool

	// Drill serves the drill (internal/drill), the small API that the
	// zero-drop proofs exercise: the tests, the load command and the test
	// overlays turn it on. It is off by default and in production, where
	// nothing of it is reachable.
	Drill bool

	// DrillUpstream is a gRPC target, another tier's service, to which the
	// drill relays Work and GET /drill/work, so that the proofs can cross
	// tiers; DrillUpstreamFallback is its ClusterIP Service, the client's
	// fallback. Both need Drill.
	DrillUpstream         string
	DrillUpstreamFallback string

	// MemoryLimit is the container's memory limit in bytes (the downward
	// API's limits.memory); 0 when unknown.
	MemoryLimit int64

	// TerminationLog is where a hard stop at shutdown is reported, for the
	// pod's status (lastState.terminated.message). Kubernetes creates the
	// file; the service never does, so outside a pod nothing is written.
	TerminationLog string

	// Version is the deployed version, fed by the kustomize ConfigMap so that
	// changing it rolls the Deployment.
	Version string
}

// EnvName is the environment variable behind the flag name: the name
// upper-cased, with underscores for dashes (shutdown-delay: SHUTDOWN_DELAY).
// Deriving it keeps a new setting to one field and one line in register.
func EnvName(flagName string) string {
	return strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// register defines the service's own flags on fs, each of which falls back to
// the environment variable EnvName names; Parse adds it to the usage.
func (c *Config) register(fs *flag.FlagSet) {
	fs.StringVar(&c.HTTPAddr, "http-addr", ":8080", "HTTP API listen `address`")
	fs.StringVar(&c.GRPCAddr, "grpc-addr", ":9090", "gRPC API listen `address`")
	fs.StringVar(&c.HealthAddr, "health-addr", ":8081", "/livez, /readyz and /metrics listen `address`")
	fs.StringVar(&c.AddrFile, "addr-file", "", "once listening, write the bound addresses as JSON to this `file`; use with port 0 to run several copies on one host")
	fs.DurationVar(&c.ShutdownDelay, "shutdown-delay", 10*time.Second, "keep serving this long after SIGTERM fails readiness")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 15*time.Second, "bound on the graceful drain before connections are closed hard")
	fs.DurationVar(&c.CleanupTimeout, "cleanup-timeout", 3*time.Second, "bound on cleanup after the servers stop")
	fs.DurationVar(&c.GRPCMaxConnectionAge, "grpc-max-connection-age", time.Minute, "close gRPC connections after this age so clients rebalance")
	fs.DurationVar(&c.GRPCMaxConnectionAgeGrace, "grpc-max-connection-age-grace", time.Hour, "let calls and streams run on this long over an aged gRPC connection; set it above your longest stream")
	fs.BoolVar(&c.GRPCReflection, "grpc-reflection", false, "serve grpc.reflection on the gRPC port, for grpcurl; it shows the API to anyone who reaches the port")
	fs.BoolVar(&c.Drill, "drill", false, "serve the drill API that the zero-drop proofs and the load command use (gRPC Drill, GET /drill/work); leave it off in production")
	fs.StringVar(&c.DrillUpstream, "drill-upstream", "", "relay the drill's Work calls and GET /drill/work to this gRPC `target`, another tier's headless Service (dns:///NAME-headless.NS.svc.cluster.local.:PORT), through the generated client; needs --drill")
	fs.StringVar(&c.DrillUpstreamFallback, "drill-upstream-fallback", "", "the upstream's ClusterIP Service as a gRPC `target`, for the client's fallback while no pod it resolved is ready; needs --drill-upstream")
	fs.Int64Var(&c.MemoryLimit, "memory-limit", 0, "the container's memory limit in `bytes`; the Go runtime's soft limit becomes 90% of it unless GOMEMLIMIT is set")
	fs.StringVar(&c.TerminationLog, "termination-log", "/dev/termination-log", "report a hard stop at shutdown in this `file`, if it exists: Kubernetes shows it in the pod's status")
	fs.StringVar(&c.Version, "service-version", "dev", "deployed `version`, reported in X-Version, /version and metrics")
}

// Parse registers the flags on fs, parses args, applies environment
// fallbacks from getenv to the flags that args did not set, and validates the
// result. Flags given in args win over the environment, so a malformed
// environment value that a flag overrides is never read; the environment
// wins over the defaults. Each of more registers further settings, the
// API's own, which get the same environment fallbacks; their validation is
// their owner's.
func Parse(fs *flag.FlagSet, args []string, getenv func(string) string, more ...func(*flag.FlagSet)) (Config, error) {
	var c Config
	// The service's own flags, apart from others on fs (glog's), which have
	// no environment variable.
	own := flag.NewFlagSet("settings", flag.ContinueOnError)
	c.register(own)
	for _, register := range more {
		register(own)
	}
	own.VisitAll(func(f *flag.Flag) {
		fs.Var(f.Value, f.Name, f.Usage+" (env "+EnvName(f.Name)+")")
	})
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q: all settings are flags", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	own.VisitAll(func(f *flag.Flag) {
		env := EnvName(f.Name)
		if set[f.Name] {
			return
		}
		if v := getenv(env); v != "" {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q is not a valid --%s: %w%s", env, v, f.Name, err, hint(f)))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	return c, c.validate()
}

// hint says what a flag's value should look like.
func hint(f *flag.Flag) string {
	if g, ok := f.Value.(flag.Getter); ok {
		if _, ok := g.Get().(time.Duration); ok {
			return "; use a duration such as 10s or 500ms"
		}
	}
	return ""
}

func (c Config) validate() error {
	var errs []error
	addrs := map[string]string{}
	for _, a := range []struct{ flag, addr string }{
		{"http-addr", c.HTTPAddr}, {"grpc-addr", c.GRPCAddr}, {"health-addr", c.HealthAddr},
	} {
		_, port, err := net.SplitHostPort(a.addr)
		if err != nil {
			errs = append(errs, fmt.Errorf("--%s %q: %w; use host:port or :port", a.flag, a.addr, err))
			continue
		}
		// Port 0 asks the kernel for a free port, so it never collides.
		if other, dup := addrs[a.addr]; dup && port != "0" {
			errs = append(errs, fmt.Errorf("--%s and --%s are both %q: give each listener its own port", other, a.flag, a.addr))
		}
		addrs[a.addr] = a.flag
	}
	if c.DrillUpstream != "" && !c.Drill {
		errs = append(errs, fmt.Errorf("--drill-upstream %q needs --drill: the relay is part of the drill", c.DrillUpstream))
	}
	if c.DrillUpstreamFallback != "" && c.DrillUpstream == "" {
		errs = append(errs, fmt.Errorf("--drill-upstream-fallback %q needs --drill-upstream: it is that upstream's fallback", c.DrillUpstreamFallback))
	}
	if c.ShutdownDelay < 0 {
		errs = append(errs, fmt.Errorf("--shutdown-delay %v is negative: use 0 or more", c.ShutdownDelay))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--shutdown-timeout %v must be positive", c.ShutdownTimeout))
	}
	if c.CleanupTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--cleanup-timeout %v must be positive", c.CleanupTimeout))
	}
	if c.GRPCMaxConnectionAge <= 0 {
		errs = append(errs, fmt.Errorf("--grpc-max-connection-age %v must be positive", c.GRPCMaxConnectionAge))
	}
	if c.GRPCMaxConnectionAgeGrace <= 0 {
		errs = append(errs, fmt.Errorf("--grpc-max-connection-age-grace %v must be positive", c.GRPCMaxConnectionAgeGrace))
	}
	if c.MemoryLimit < 0 {
		errs = append(errs, fmt.Errorf("--memory-limit %d is negative: give the limit in bytes, or 0 for none", c.MemoryLimit))
	}
	if c.Version == "" {
		errs = append(errs, errors.New("--service-version is empty: set SERVICE_VERSION or leave the default"))
	}
	return errors.Join(errs...)
}
