# syntax=docker/dockerfile:1
# The example-service image, built from the root of this repository:
#   docker build -t ghcr.io/zerodrop/example-service .
# It is example-service/Dockerfile with paths from the repository root. The
# cluster scenarios build the same binary without Docker (see test/e2e).

FROM golang:1.26.8 AS build
WORKDIR /src
COPY example-service/go.mod example-service/go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY example-service/ ./
ARG TARGETOS TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w" -o /out/example-service ./cmd/example-service

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/example-service /example-service
USER 65532:65532
EXPOSE 8080 9090 8081
ENTRYPOINT ["/example-service"]
