module github.com/zerodrop/zerodrop/test/e2e

go 1.26.0

require (
	github.com/google/go-containerregistry v0.20.3
	golang.org/x/image v0.47.0
	google.golang.org/grpc v1.85.0
)

require (
	github.com/grpc-ecosystem/go-grpc-middleware/v2 v2.3.4 // indirect
	golang.org/x/net v0.60.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260817212433-ac3dfec99bb1 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

require (
	github.com/containerd/stargz-snapshotter/estargz v0.16.3 // indirect
	github.com/klauspost/compress v1.17.11 // indirect
	github.com/opencontainers/go-digest v1.0.0 // indirect
	github.com/opencontainers/image-spec v1.1.0 // indirect
	github.com/vbatts/tar-split v0.11.6 // indirect
	github.com/zerodrop/zerodrop/example-service v0.0.0
	golang.org/x/sync v0.24.0 // indirect
)

replace github.com/zerodrop/zerodrop/example-service => ../../example-service
