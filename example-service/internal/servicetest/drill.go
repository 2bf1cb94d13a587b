package servicetest

import (
	"context"

	"google.golang.org/grpc"

	drillv1 "github.com/zerodrop/zerodrop/example-service/api/exampleservice/drill/v1"
	"github.com/zerodrop/zerodrop/example-service/client"
)

// FollowWatch follows the drill's Watch through cl from req (nil for an
// empty one), each resume after the last event delivered: client.Follow as
// any resumable stream uses it.
func FollowWatch(ctx context.Context, cl *client.Client, req *drillv1.WatchRequest, f func(*drillv1.WatchResponse) error) error {
	open := func(ctx context.Context, last *drillv1.WatchResponse, opts ...grpc.CallOption) (grpc.ServerStreamingClient[drillv1.WatchResponse], error) {
		r := &drillv1.WatchRequest{IntervalMs: req.GetIntervalMs(), AfterSequence: req.GetAfterSequence()}
		if last != nil {
			r.AfterSequence = last.GetSequence()
		}
		return drillv1.NewDrillClient(cl.Conn()).Watch(ctx, r, opts...)
	}
	return client.Follow(ctx, cl, drillv1.Drill_Watch_FullMethodName, open, f)
}
