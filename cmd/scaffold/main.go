// Scaffold generates Go HTTP + gRPC services that survive every Kubernetes
// rolling update without dropping a request, and checks Kubernetes manifests
// for the mistakes that make rollouts drop them.
//
// Usage:
//
//	scaffold new NAME --module PATH [-o DIR] [flags]
//	scaffold update [DIR] [--dry-run] [--answers KEY=VALUE,...] [--from DIR | --from-git REV]
//	scaffold lint [PATH...]
//	scaffold version
//	scaffold completion bash|zsh|fish|powershell
//
// # Example
//
//	scaffold new payments-api --module github.com/acme/payments-api
//	cd payments-api && make run
//
// Run scaffold help new for every flag and the tree of generated files, and
// scaffold help update for how a service follows later templates.
package main

import (
	"os"

	"github.com/zerodrop/zerodrop/internal/cli"
)

func main() {
	os.Exit(cli.Run(os.Args[1:], os.Stdout, os.Stderr))
}
