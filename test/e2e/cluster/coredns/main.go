//go:build ignore

// Command coredns is CoreDNS with only the plugins the e2e cluster's DNS
// uses. build-coredns.sh copies this file into a throwaway module outside the
// work tree (the ignore tag keeps the e2e module from compiling it). Upstream's
// main links every plugin, cloud SDKs included; linking four keeps the cold
// build short.
package main

import (
	"github.com/coredns/coredns/coremain"
	_ "github.com/coredns/coredns/plugin/bind"       // listen on loopback only
	_ "github.com/coredns/coredns/plugin/cache"      // a stock cluster's 30 s answer cache
	_ "github.com/coredns/coredns/plugin/errors"     // log resolution errors
	_ "github.com/coredns/coredns/plugin/kubernetes" // Services and pods as DNS records
)

func main() {
	coremain.Run()
}
