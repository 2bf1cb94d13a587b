package lifecycle

import (
	"context"
	"errors"
	"net"
	"net/http"

	"google.golang.org/grpc"
)

// HTTP adapts an http.Server serving on ln.
func HTTP(name string, srv *http.Server, ln net.Listener) Server {
	return Server{
		Name: name,
		Serve: func() error {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
		Shutdown: srv.Shutdown,
		Close:    srv.Close,
	}
}

// GRPC adapts a grpc.Server serving on ln. GracefulStop has no deadline of its
// own and waits for every handler, so Shutdown runs it in the background and
// gives up when ctx ends; Close then calls Stop, which cuts the remaining
// connections and cancels their calls.
func GRPC(name string, srv *grpc.Server, ln net.Listener) Server {
	return Server{
		Name: name,
		Serve: func() error {
			if err := srv.Serve(ln); !errors.Is(err, grpc.ErrServerStopped) {
				return err
			}
			return nil
		},
		Shutdown: func(ctx context.Context) error {
			done := make(chan struct{})
			go func() {
				srv.GracefulStop()
				close(done)
			}()
			select {
			case <-done:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
		Close: func() error {
			srv.Stop()
			return nil
		},
	}
}
