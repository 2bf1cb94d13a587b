// Command pause is the pod sandbox image's process: it holds the pod's
// namespaces open and exits on SIGTERM or SIGINT. The e2e cluster cannot pull
// registry.k8s.io/pause, so this static binary stands in for it.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
}
