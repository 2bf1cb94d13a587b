# zerodrop: run `make help` for the targets.

# Where `make demo` generates its service; anything there is replaced.
DEMO_DIR ?= $(or $(TMPDIR),/tmp)/zerodrop-demo
# Extra flags for the demo service, e.g. -http-addr=127.0.0.1:0 -addr-file=addrs.json.
DEMO_FLAGS ?=
# The golden example's answers. `make generate` renders it with exactly these.
GOLDEN_NAME := example-service
GOLDEN_MODULE := github.com/zerodrop/zerodrop/example-service
# Where built binaries go; git ignores it.
BIN ?= bin
# How many times make stress runs each test of a freshly generated service.
STRESS_COUNT ?= 10

SHELL := /usr/bin/env bash -o errexit -o pipefail -o nounset
MAKEFLAGS += --warn-undefined-variables --no-builtin-rules
.DEFAULT_GOAL := help

##@ Start here

.PHONY: demo
demo: ## Generate a service into DEMO_DIR (a temp dir) and run it (Ctrl-C drains and stops it)
	rm -rf $(DEMO_DIR)
	go run ./cmd/scaffold new demo-service --module example.com/demo-service -o $(DEMO_DIR)
	cd $(DEMO_DIR) && go build -o bin/demo-service ./cmd/demo-service && exec bin/demo-service -shutdown-delay=1s -v=1 $(DEMO_FLAGS)

.PHONY: test
test: check e2e ## Run every test: everything in check, then the real-cluster proof (root)

##@ Develop

.PHONY: check
check: ## Every test but the cluster proof: generator, lint, golden example, generated services, a short stress (~10 min warm)
	go vet ./...
	go test -count=1 ./...
	$(MAKE) verify-golden
	@# -v: the rollout, drain and client tests print their request counts.
	cd $(GOLDEN_NAME) && go vet ./... && go test -race -count=1 -v ./...
	cd test/e2e && go vet ./... && go test -count=1 ./...
	cd bench && go vet ./... && go test -count=1 ./...
	@# The peers are modules of their own, built only by make bench: vet them here,
	@# so that a change to example-service's API that breaks them fails CI.
	cd bench/peers/kratos && go vet ./...
	cd bench/peers/gozero && go vet ./...
	$(MAKE) stress STRESS_COUNT=3

.PHONY: stress
stress: ## Render a fresh service; run its tests with -race -count=STRESS_COUNT beside a CPU hog (~17 min at the default 10)
	ZERODROP_STRESS_COUNT=$(STRESS_COUNT) go test -count=1 -v -timeout 90m -run '^TestStressGeneratedService$$' ./internal/cli

.PHONY: build
build: ## Build scaffold into ./bin
	CGO_ENABLED=0 go build -trimpath -o $(BIN)/scaffold ./cmd/scaffold

.PHONY: generate
generate: ## Regenerate the golden example-service from the templates
	rm -rf $(GOLDEN_NAME)
	go run ./cmd/scaffold new $(GOLDEN_NAME) --module $(GOLDEN_MODULE) -o $(GOLDEN_NAME)

.PHONY: verify-golden
verify-golden: ## Fail if example-service differs from what the templates render
	go test -count=1 -run 'TestGolden' ./internal/cli

.PHONY: tidy-templates
tidy-templates: ## Tidy the templates' go.mod/go.sum through the golden example, then regenerate it
	cd $(GOLDEN_NAME) && go mod tidy
	sed 's#^module .*#module {{.Module}}#' $(GOLDEN_NAME)/go.mod > templates/service/go.mod.tmpl
	cp $(GOLDEN_NAME)/go.sum templates/service/go.sum.tmpl
	cd $(GOLDEN_NAME)/tools && go mod tidy
	sed -e 's#^module .*#module {{.Module}}/tools#' -e 's#$(GOLDEN_MODULE)/tools/protogen#{{.Module}}/tools/protogen#' $(GOLDEN_NAME)/tools/go.mod > templates/service/tools/go.mod.tmpl
	cp $(GOLDEN_NAME)/tools/go.sum templates/service/tools/go.sum.tmpl
	$(MAKE) generate

##@ Cluster proof

.PHONY: e2e
e2e: ## Roll example-service under load on a real one-node Kubernetes (root; test/e2e/README.md)
	cd test/e2e && ZERODROP_E2E=1 go test -count=1 -v -timeout 75m -run TestRollingUpdates .

##@ Benchmarks

.PHONY: bench
bench: ## Measure example-service against bare net/http + grpc-go, podinfo, kratos and go-zero, interleaved, each round starting one side later, and A with tracing on (~26 min); updates BENCHMARKS.md and bench/results/chart.png
	cd bench && go run ./cmd/bench -rounds 10 -http-duration 5s -grpc-duration 5s -scaffold-runs 7 -traced -doc ../BENCHMARKS.md

##@ Help

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} \
	  /^[a-zA-Z0-9_-]+:.*?##/ { printf "  %-15s %s\n", $$1, $$2 } \
	  /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)
