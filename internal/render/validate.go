package render

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"golang.org/x/mod/module"
)

// InputError is a problem with what the user asked for, as opposed to a
// failure while working: the command line exits 2 for it, and did nothing.
// Its message says what is wrong and how to fix it. It is the one such type
// of scaffold, used by render's checks and by every command.
type InputError struct{ err error }

func (e *InputError) Error() string { return e.err.Error() }
func (e *InputError) Unwrap() error { return e.err }

// Input marks err as the caller's to fix.
func Input(err error) error { return &InputError{err: err} }

func inputErrorf(format string, args ...any) error {
	return Input(fmt.Errorf(format, args...))
}

// MaxNameLen keeps every object name derived from the service name (the longest
// is NAME-headless) within Kubernetes' 63-character DNS label limit.
const MaxNameLen = 63 - len(HeadlessSuffix)

// nameRE is an RFC 1035 label: a DNS-1123 label that starts with a letter, so
// that it is also a valid Service name and yields a valid protobuf package.
var nameRE = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)

// ValidateName checks the service name.
func ValidateName(name string) error {
	switch {
	case name == "":
		return inputErrorf("service name is empty: give a name such as \"payments-api\"")
	case len(name) > MaxNameLen:
		return inputErrorf("service name %q is %d characters long: use at most %d, so that derived Kubernetes names such as %q fit the 63-character limit",
			name, len(name), MaxNameLen, name+HeadlessSuffix)
	case strings.ToLower(name) != name && nameRE.MatchString(strings.ToLower(name)):
		return inputErrorf("service name %q has uppercase letters: Kubernetes names are lowercase; use %q", name, strings.ToLower(name))
	case name[0] >= '0' && name[0] <= '9':
		return inputErrorf("service name %q starts with a digit: start it with a letter, e.g. %q", name, "svc-"+name)
	case strings.Contains(name, "--"):
		return inputErrorf("service name %q has consecutive dashes: use single dashes between words", name)
	case !nameRE.MatchString(name):
		return inputErrorf("service name %q is not a DNS label: use lowercase letters, digits and dashes, starting with a letter and ending with a letter or digit", name)
	case name == "vendor" || name == "testdata":
		return inputErrorf("service name %q is a directory name that the go command ignores, and the service's main package lives in cmd/NAME: choose another name, e.g. %q", name, name+"-svc")
	}
	return nil
}

// ValidateModule checks the Go module path with the go command's own rules.
func ValidateModule(path string) error {
	if path == "" {
		return inputErrorf("module path is empty: pass --module, e.g. --module github.com/acme/payments-api")
	}
	if err := module.CheckPath(path); err != nil {
		return inputErrorf("module path %q is invalid: %v; use a path such as github.com/acme/payments-api", path, errors.Unwrap(err))
	}
	return nil
}

// dnsSubdomainRE is a DNS-1123 subdomain, for the Ingress host.
var dnsSubdomainRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// imageRE is an image repository without tag or digest: lowercase path
// components, optionally behind a registry host with a port.
var imageRE = regexp.MustCompile(`^([a-zA-Z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$`)

// Validate checks every answer before anything is rendered or written, and
// reports all problems at once.
func (d Data) Validate() error {
	var errs []error
	if err := ValidateName(d.Name); err != nil {
		errs = append(errs, err)
	}
	if err := ValidateModule(d.Module); err != nil {
		errs = append(errs, err)
	}
	ports := []struct {
		flag string
		port int
	}{{"--http-port", d.HTTPPort}, {"--grpc-port", d.GRPCPort}, {"--health-port", d.HealthPort}}
	seen := map[int]string{}
	for _, p := range ports {
		switch {
		case p.port < 1 || p.port > 65535:
			errs = append(errs, inputErrorf("%s %d is out of range: use a port from 1024 to 65535", p.flag, p.port))
		case p.port < 1024:
			errs = append(errs, inputErrorf("%s %d is privileged: the container runs as a non-root user without NET_BIND_SERVICE, so use a port from 1024 to 65535", p.flag, p.port))
		case seen[p.port] != "":
			errs = append(errs, inputErrorf("%s and %s are both %d: every port must be different", seen[p.port], p.flag, p.port))
		default:
			seen[p.port] = p.flag
		}
	}
	if len(d.Image) > 255 || !imageRE.MatchString(d.Image) {
		errs = append(errs, inputErrorf("--image %q is not an image repository: use lowercase letters, digits, '.', '_', '-' and '/', with no tag, e.g. ghcr.io/acme/payments-api", d.Image))
	}
	if len(d.IngressHost) > 253 || !dnsSubdomainRE.MatchString(d.IngressHost) || !strings.Contains(d.IngressHost, ".") {
		errs = append(errs, inputErrorf("--host %q is not a DNS name: use a lowercase host name such as payments.example.com", d.IngressHost))
	}
	if len(d.Namespace) > 63 || !nameRE.MatchString(d.Namespace) {
		errs = append(errs, inputErrorf("--namespace %q is not a Kubernetes namespace name: use at most 63 lowercase letters, digits and dashes, starting with a letter", d.Namespace))
	}
	if len(d.GatewayName) > 253 || !dnsSubdomainRE.MatchString(d.GatewayName) {
		errs = append(errs, inputErrorf("--gateway %q is not a Kubernetes object name: use lowercase letters, digits, '-' and '.', such as %s", d.GatewayName, DefaultGatewayName))
	}
	if len(d.GatewayNamespace) > 63 || !nameRE.MatchString(d.GatewayNamespace) {
		errs = append(errs, inputErrorf("--gateway-namespace %q is not a Kubernetes namespace name: use at most 63 lowercase letters, digits and dashes, starting with a letter, such as %s", d.GatewayNamespace, DefaultGatewayNamespace))
	}
	return errors.Join(errs...)
}
