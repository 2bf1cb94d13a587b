// The service's code-generation tools. They live in their own module so that
// they never change the service's runtime dependency graph. Run them with
// `make generate`.
module github.com/zerodrop/zerodrop/example-service/tools

go 1.26.0

tool (
	github.com/zerodrop/zerodrop/example-service/tools/protogen
	google.golang.org/grpc/cmd/protoc-gen-go-grpc
	google.golang.org/protobuf/cmd/protoc-gen-go
)

require (
	github.com/bufbuild/protocompile v0.14.1
	google.golang.org/protobuf v1.36.12
)

require (
	golang.org/x/sync v0.8.0 // indirect
	google.golang.org/grpc/cmd/protoc-gen-go-grpc v1.6.2 // indirect
)
