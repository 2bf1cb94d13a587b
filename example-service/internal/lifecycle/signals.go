package lifecycle

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/golang/glog"
)

// SignalContext returns a context that the first SIGTERM or SIGINT cancels,
// which starts the shutdown sequence. A second signal exits the process at
// once with status 128+signal, as a shell reports a killed process: whoever
// sends it has decided not to wait for the drain. Call stop to release the
// signal handler.
func SignalContext(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			cancel(fmt.Errorf("received %v", sig))
		case <-done:
			return
		}
		select {
		case sig := <-sigs:
			glog.Warningf("received second signal %v: exiting at once", sig)
			glog.Flush()
			os.Exit(128 + int(sig.(syscall.Signal)))
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(context.Canceled)
	}
}
