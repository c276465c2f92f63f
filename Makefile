# kubegate — see README.md. Everything a target needs is installed by the target.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO            ?= go
CACHE_DIR     ?= $(HOME)/.cache/kubegate
export KUBEGATE_KUBE_BIN ?= $(CACHE_DIR)/kube-v1.37.2
GOLANGCI_VERSION := v2.15.0
GOLANGCI_LINT := $(CACHE_DIR)/tools/golangci-lint-$(GOLANGCI_VERSION)/golangci-lint
TEST_FLAGS    ?= -race -timeout 30m
# The black-box suites build the gateway in TestMain, where go test's cache cannot
# see the sources: CI never trusts a cached result.
ifeq ($(CI),true)
TEST_FLAGS    += -count=1
endif
VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS       := -X github.com/kubegate/kubegate.Version=$(VERSION)

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

.PHONY: build
build: ## build bin/kubegate
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/kubegate ./cmd/kubegate

.PHONY: kube-bin
kube-bin: ## build kube-apiserver, kube-controller-manager, etcd and kubectl v1.37.2 into the cache (only when missing)
	@bash hack/kube/build.sh

.PHONY: demo
demo: build kube-bin ## run two local clusters and the gateway (Ctrl-C stops everything)
	./bin/kubegate demo

.PHONY: deps
deps: ## install the Debian packages the tests use, when missing
	@bash hack/deps.sh

.PHONY: image
image: ## build the OCI image tarball bin/kubegate-image.tar, without a container daemon
	@bash hack/image.sh

.PHONY: helm-bin
helm-bin: ## build helm into the cache (only when missing)
	@bash hack/helm.sh >/dev/null

.PHONY: manifests
manifests: helm-bin ## render deploy/kubernetes/kubegate.yaml from the Helm chart
	@bash hack/manifests.sh

.PHONY: test
test: deps kube-bin helm-bin ## install what is missing, then vet and run every test
	$(GO) vet ./...
	$(GO) test $(TEST_FLAGS) ./...

.PHONY: lint
lint: $(GOLANGCI_LINT) ## refuse files over 5 MB, run golangci-lint with .golangci.yml, then govulncheck
	bash hack/filesize.sh
	$(GOLANGCI_LINT) run ./...
	bash hack/vulncheck.sh

$(GOLANGCI_LINT):
	GOBIN=$(dir $(GOLANGCI_LINT)) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)

.PHONY: screenshots
screenshots: deps kube-bin ## refresh the console screenshots in docs/screenshots from the Chromium tests
	KUBEGATE_SCREENSHOTS=1 $(GO) test -count=1 -run . ./test/console/

.PHONY: bench
bench: kube-bin ## run the benchmarks and write docs/benchmarks.md
	bash hack/bench.sh

.PHONY: load
load: kube-bin ## 200 clients for 60 s against two clusters, with 10 then 100 background writes a second to each; writes the load section of docs/benchmarks.md
	$(GO) run ./hack/load -clients $${LOAD_CLIENTS:-200} -duration $${LOAD_DURATION:-60s} -writes $${LOAD_WRITES:-10,100}

.PHONY: fmt
fmt: ## format the code
	gofmt -w $$(git ls-files '*.go')
