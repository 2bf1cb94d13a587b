package load

import (
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestGRPCErrorClasses checks that failures group into a few classes, with
// no pod or Service address in them, so that the report counts them.
func TestGRPCErrorClasses(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial tcp 10.218.0.36:9090: connect: connection refused"`), "grpc Unavailable: connection refused"},
		{status.Error(codes.Unavailable, `max retries exhausted: failed after 4 attempts: rpc error: code = Unavailable desc = error reading from server: EOF`), "grpc Unavailable: retries exhausted, last: EOF"},
		{status.Error(codes.Unavailable, `dial 10.217.0.5:9090 weird`), "grpc Unavailable: dial ADDR weird"},
		{errors.New("plain"), "plain"},
	} {
		if got := grpcError(tc.err); got != tc.want {
			t.Errorf("grpcError(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
