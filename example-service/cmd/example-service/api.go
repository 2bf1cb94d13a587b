package main

import (
	"context"
	"flag"

	"google.golang.org/grpc"

	"github.com/zerodrop/zerodrop/example-service/internal/greeter"
)

// This file is yours: it is where the service's own API joins the runtime.
// run calls newAPI once, before serving, and serves what it returns; the
// runtime does the rest for every service and route registered here
// (draining, health, metrics, access logs, the shutdown's bounds). See
// "Start here" in README.md for recipes.

// settings are the API's own settings. Each is a flag, and also an
// environment variable named after it (--greeting, GREETING), listed by
// -help beside the runtime's.
type settings struct {
	apiEnv

	// Greeting opens every greeting.
	Greeting string
}

// register declares the settings on fs.
func (s *settings) register(fs *flag.FlagSet) {
	fs.StringVar(&s.Greeting, "greeting", "Hello", "the `word` that opens every greeting")
}

// newAPI builds the API from its settings. An error stops the start, with
// nothing served.
func newAPI(_ context.Context, s settings) (service, error) {
	g := greeter.New(s.Info, s.Hostname, s.Greeting)
	return service{
		GRPC: []func(grpc.ServiceRegistrar){g.Register},
		HTTP: g.Routes(),
	}, nil
}
