package render

import (
	"strconv"
	"strings"
	"time"

	"github.com/zerodrop/zerodrop/internal/shutdown"
)

// Version is the zerodrop release whose templates this binary carries. The
// generated .scaffold.yaml records it so that a later upgrade knows which
// templates a project was rendered from; it changes only with a release, so the
// golden example does not drift with every commit.
const Version = "0.1.0"

// Defaults for the answers a user does not give.
const (
	DefaultHTTPPort   = 8080
	DefaultGRPCPort   = 9090
	DefaultHealthPort = 8081
	// The Gateway that routes attach to unless scaffold new is told
	// otherwise: a shared one that a platform team runs in its own namespace.
	DefaultGatewayName      = "gateway"
	DefaultGatewayNamespace = "gateway-system"
)

// Shutdown timing baked into the service defaults and the manifests, from
// package shutdown, which lint reads too. The manifests derive
// terminationGracePeriodSeconds from the same numbers, so the two cannot
// drift apart (see internal/lifecycle in the generated service).
const (
	DefaultShutdownDelay   = shutdown.Delay   // D: endpoint removal propagation
	DefaultShutdownTimeout = shutdown.Timeout // S: graceful drain bound
	DefaultCleanupTimeout  = shutdown.Cleanup // F: cleanup bound
)

// Data is everything a template may use. Templates read fields and call the
// methods below; the FuncMap stays tiny on purpose. Data only ever gains
// fields and methods, and never changes what one returns: scaffold update
// renders older template trees with it and must get what they rendered then.
type Data struct {
	Name        string // DNS-1123 label, e.g. "example-service"
	Module      string // Go module path of the generated service
	HTTPPort    int
	GRPCPort    int
	HealthPort  int
	Image       string // image repository without tag, e.g. "ghcr.io/acme/example-service"
	IngressHost string
	Namespace   string
	// GatewayName and GatewayNamespace name the platform's Gateway API
	// Gateway that the routes attach to. A record written before they
	// existed gets the defaults (ReadRecord).
	GatewayName      string
	GatewayNamespace string
	// NoExample leaves the example API out (scaffold new --example=false):
	// the runtime, the drill and the proofs, with an empty registration
	// point. It is a negative so that a record written before it existed
	// means what it meant then: with the example.
	NoExample bool
	// ScaffoldVersion and TemplateHash are recorded in .scaffold.yaml: the
	// release, and the hash of the exact template tree (see TreeHash), so that
	// scaffold update can render the same files again.
	ScaffoldVersion string
	TemplateHash    string
}

// ProtoPackage is the service's own protobuf package, e.g. "exampleservice.v1".
// It is derived from the name so that two generated services can be linked into
// one binary without protobuf registry conflicts.
func (d Data) ProtoPackage() string { return d.ProtoDir() + ".v1" }

// ProtoDir is the name without dashes, used for the proto package and its
// directory under api/.
func (d Data) ProtoDir() string { return strings.ReplaceAll(d.Name, "-", "") }

// GoPackage is the Go package name of the generated protobuf code.
func (d Data) GoPackage() string { return d.ProtoDir() + "v1" }

// APIImport is the import path of the generated protobuf code.
func (d Data) APIImport() string { return d.Module + "/api/" + d.ProtoDir() + "/v1" }

// GRPCHost is the host name of the gRPC API behind a Gateway: one of its
// own, since an HTTPRoute and a GRPCRoute may not share one on a listener.
func (d Data) GRPCHost() string { return "grpc." + d.IngressHost }

// Snake is the name with underscores, for metric names.
func (d Data) Snake() string { return strings.ReplaceAll(d.Name, "-", "_") }

// Title is the name in words with capitals, for prose ("Example Service").
func (d Data) Title() string {
	words := strings.Split(d.Name, "-")
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.Join(words, " ")
}

// HeadlessName is the headless Service that the gRPC client resolves; it is the
// longest object name derived from Name, which bounds Name's length.
func (d Data) HeadlessName() string { return d.Name + HeadlessSuffix }

// HeadlessSuffix is appended to Name for the headless Service.
const HeadlessSuffix = "-headless"

// ClientTarget is the dns:/// target of the headless Service, as templates
// before ClientFQDNTarget rendered it. It keeps its value, since scaffold
// update renders old template trees with this Data and must reproduce
// exactly what they generated.
func (d Data) ClientTarget() string {
	return "dns:///" + d.HeadlessName() + "." + d.Namespace + ".svc.cluster.local:" + strconv.Itoa(d.GRPCPort)
}

// ClientFQDNTarget is the default target of the generated gRPC client: fully
// qualified, with the trailing dot, so that a lookup is one query and not one
// per search domain of the pod's resolv.conf (ndots:5).
func (d Data) ClientFQDNTarget() string {
	return "dns:///" + d.HeadlessName() + "." + d.Namespace + ".svc.cluster.local.:" + strconv.Itoa(d.GRPCPort)
}

// Seconds renders a duration as whole seconds, for manifests and flags.
func Seconds(d time.Duration) int { return int(d / time.Second) }

// GracePeriod is terminationGracePeriodSeconds: D + S + F + M.
func (d Data) GracePeriod() int {
	return Seconds(DefaultShutdownDelay + DefaultShutdownTimeout + DefaultCleanupTimeout + shutdown.Margin)
}

// MarginSeconds is M, the slack that GracePeriod keeps above D + S + F, in
// whole seconds.
func (d Data) MarginSeconds() int { return Seconds(shutdown.Margin) }

// DelaySeconds, TimeoutSeconds and CleanupSeconds are the default D, S and F
// in whole seconds, for Go code and manifests alike.
func (d Data) DelaySeconds() int   { return Seconds(DefaultShutdownDelay) }
func (d Data) TimeoutSeconds() int { return Seconds(DefaultShutdownTimeout) }
func (d Data) CleanupSeconds() int { return Seconds(DefaultCleanupTimeout) }

// DrillPackage is the protobuf package of the drill, the runtime's own API
// that the proofs exercise, e.g. "exampleservice.drill.v1": the service's
// own, like ProtoPackage, so that two services' drills never collide.
func (d Data) DrillPackage() string { return d.ProtoDir() + ".drill.v1" }

// DrillImport is the import path of the drill's generated code.
func (d Data) DrillImport() string { return d.Module + "/api/" + d.ProtoDir() + "/drill/v1" }

// Example reports whether the service has the example API; see NoExample.
func (d Data) Example() bool { return !d.NoExample }
