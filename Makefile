# Loom. Every tool is installed from the Go module proxy into bin/ (or ~/.cache/loom/); Go, and Node.js with npm for one xDS test client, are assumed.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -o pipefail -ec
export GOTOOLCHAIN := local

LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_GEN_VERSION ?= v0.23.0
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
GOLANGCI_LINT_VERSION ?= v2.15.0
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X loom.dev/loom/internal/version.Version=$(VERSION) -X loom.dev/loom/internal/version.Commit=$(COMMIT)
TEST_TIMEOUT ?= 30m
GENERATED = config/crd/bases/*.yaml config/rbac/role.yaml api/*/zz_generated.deepcopy.go api/*/*/zz_generated.deepcopy.go pkg/loomcrds/crds/*.yaml charts/loom-operator/files/crds/*.yaml charts/loom-operator/files/rbac/*.yaml

.PHONY: all
all: build

.PHONY: help
help: ## Show the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-14s %s\n", $$1, $$2}'

.PHONY: build
build: ## Build bin/loom, bin/kubectl-mesh (the kubectl plugin) and bin/grpcecho (the demo's gRPC sample app).
	go build -ldflags "$(LDFLAGS)" -o $(LOCALBIN)/loom .
	go build -ldflags "$(LDFLAGS)" -o $(LOCALBIN)/kubectl-mesh ./cmd/kubectl-mesh
	go build -o $(LOCALBIN)/grpcecho ./test/grpcecho

IMAGE_TAG ?= $(VERSION)
IMAGE_PLATFORMS ?= linux/amd64 linux/arm64
IMAGES := loom grpcecho pause
IMAGE_DIR ?= $(LOCALBIN)/images
IMAGE_SOURCE ?= https://github.com/loom-dev/loom
IMAGE_CREATED ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)

# The image's loom is built with -tags nodev: no `loom dev` (envtest, go-containerregistry).
.PHONY: image
image: build ## Build the loom, grpcecho and pause images (linux/amd64, linux/arm64) without a container engine: bin/images/<name>/ (OCI layout) and bin/images/<name>-<tag>-linux-<host arch>.tar (for ctr -n k8s.io images import).
	@for platform in $(IMAGE_PLATFORMS); do \
	  os=$${platform%/*}; arch=$${platform#*/}; dir=$(LOCALBIN)/$${os}_$${arch}; \
	  echo "building loom, grpcecho and pause for $$platform into $$dir"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch go build -tags nodev -trimpath -ldflags "-s -w $(LDFLAGS)" -o $$dir/loom .; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch go build -trimpath -ldflags "-s -w" -o $$dir/grpcecho ./test/grpcecho; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch go build -trimpath -ldflags "-s -w" -o $$dir/pause ./test/pause; \
	done
	@for image in $(IMAGES); do \
	  binaries=; for platform in $(IMAGE_PLATFORMS); do binaries="$$binaries --binary $$platform=$(LOCALBIN)/$${platform/\//_}/$$image"; done; \
	  $(LOCALBIN)/loom dev image build --name $$image --tag $(IMAGE_TAG) $$binaries \
	    --source $(IMAGE_SOURCE) --revision $(COMMIT) --created $(IMAGE_CREATED) --out $(IMAGE_DIR); \
	done

# What the demo and the end-to-end tests import into the real node: the host platform only,
# under the tags config/manager and the control-plane chart name.
DEMO_IMAGE_DIR ?= $(LOCALBIN)/demo-images
CONTROL_PLANE_VERSION := $(shell sed -n 's/^version: "\(.*\)"/\1/p' pkg/render/charts/control-plane/values.yaml)

.PHONY: demo-images
demo-images: build ## Build the demo's images for this machine's platform into bin/demo-images (loom:latest, loom:v<control-plane version>, loom.dev/grpcecho:dev).
	@arch=$$(go env GOARCH); dir=$(LOCALBIN)/linux_$$arch; \
	CGO_ENABLED=0 GOOS=linux GOARCH=$$arch go build -tags nodev -trimpath -ldflags "-s -w $(LDFLAGS)" -o $$dir/loom . && \
	CGO_ENABLED=0 GOOS=linux GOARCH=$$arch go build -trimpath -ldflags "-s -w" -o $$dir/grpcecho ./test/grpcecho && \
	for tag in latest v$(CONTROL_PLANE_VERSION); do \
	  $(LOCALBIN)/loom dev image build --name loom --tag $$tag --binary linux/$$arch=$$dir/loom --created $(IMAGE_CREATED) --out $(DEMO_IMAGE_DIR) 2>/dev/null || exit 1; \
	done && \
	$(LOCALBIN)/loom dev image build --name grpcecho --repository loom.dev/grpcecho --tag dev --binary linux/$$arch=$$dir/grpcecho --created $(IMAGE_CREATED) --out $(DEMO_IMAGE_DIR) 2>/dev/null

.PHONY: image-push
image-push: image ## Push the images to $(REGISTRY)/<name>:$(IMAGE_TAG) (make image-push REGISTRY=ghcr.io/loom-dev; credentials from ~/.docker/config.json).
	@[ -n "$(REGISTRY)" ] || { echo "set REGISTRY, e.g. make image-push REGISTRY=ghcr.io/loom-dev"; exit 1; }
	@for image in $(IMAGES); do $(LOCALBIN)/loom dev image push --layout $(IMAGE_DIR)/$$image --to $(REGISTRY)/$$image:$(IMAGE_TAG); done

.PHONY: bundle
bundle: build ## Regenerate the OLM bundle (bundle/: ClusterServiceVersion, CRDs, annotations) and the file-based catalog (catalog/) from config/; commit both.
	$(LOCALBIN)/loom dev bundle --out bundle --catalog catalog

.PHONY: bundle-image
bundle-image: bundle ## Build the OLM bundle image (registry+v1, linux/amd64 + arm64, created at Unix 0 like make catalog's, so the same digest) into bin/images/loom-operator-bundle/ (OCI layout) and a tarball; prints its digest.
	$(LOCALBIN)/loom dev bundle image --bundle bundle --created 0 --out $(IMAGE_DIR)

# The catalog pins the bundle image by digest; both images are built with a fixed creation
# time (Unix 0), so the digest depends on bundle/ alone and the committed catalog stays current.
.PHONY: catalog
catalog: bundle ## Build the bundle image, pin catalog/ to its digest, validate catalog/ with operator-registry, and build the catalog image (/configs, files only) into bin/images/ (OCI layouts and tarballs); prints both digest references; commit catalog/.
	go run ./internal/catalog/cmd/catalog --bundle bundle --catalog catalog --out $(IMAGE_DIR)

.PHONY: node-binaries
node-binaries: ## Build the real node's kubelet, kube-proxy, CNI plugins, CoreDNS and pause (cached outside the checkout); install containerd, runc, iptables, nftables, conntrack from Debian when missing.
	@assets=$$(hack/node-binaries.sh) && mkdir -p $(LOCALBIN) && ln -sfn "$$assets" $(LOCALBIN)/node

.PHONY: k8s-binaries
k8s-binaries: ## Build etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and kwok (cached outside the checkout).
	@assets=$$(hack/k8s-binaries.sh) && mkdir -p $(LOCALBIN) && ln -sfn "$$assets" $(LOCALBIN)/k8s

.PHONY: istio-agent
istio-agent: ## Build Istio's pilot-agent, test/xds's independent client of the mesh CA (cached outside the checkout beside istiod; ~4 min cold, ~25 s once istiod is built).
	@agent=$$(hack/istio-binaries.sh pilot-agent) && mkdir -p $(LOCALBIN) && ln -sfn "$$agent" $(LOCALBIN)/pilot-agent

.PHONY: jaeger
jaeger: ## Build Jaeger v2 (cmd/jaeger v1.76.0), test/xds's receiver of the control plane's traces (cached outside the checkout; ~13 min cold on 2 cores).
	@bin=$$(hack/jaeger/build.sh) && mkdir -p $(LOCALBIN) && ln -sfn "$$bin" $(LOCALBIN)/jaeger

# The packages where concurrency lives run under the race detector; the tests that drive the
# real binaries and clients (test/...) run without it. Both in a random order.
RACE_PACKAGES = ./pkg/... ./internal/... ./controllers/...
OTHER_PACKAGES = . ./api/... ./test/...

TEST_ENV = LOOM_K8S_ASSETS=$$(readlink -f $(LOCALBIN)/k8s) LOOM_NODE_ASSETS=$$(readlink -f $(LOCALBIN)/node) LOOM_PILOT_AGENT=$$(readlink -f $(LOCALBIN)/pilot-agent)

.PHONY: prometheus-tools
prometheus-tools: ## Install Debian's prometheus package (prometheus and promtool, for the Prometheus add-on's tests) when promtool is missing.
	@command -v promtool >/dev/null || { apt-get update -qq && apt-get install -y -qq prometheus; }

.PHONY: test
test: k8s-binaries node-binaries istio-agent prometheus-tools jaeger ## Run unit and integration tests against a real local Kubernetes, with a real node where pods must run (race detector on pkg, internal, controllers).
	$(TEST_ENV) go test -count=1 -shuffle=on -race -timeout $(TEST_TIMEOUT) $(RACE_PACKAGES)
	$(TEST_ENV) go test -count=1 -shuffle=on -timeout $(TEST_TIMEOUT) $(OTHER_PACKAGES)
	cd test/tools/argocd-health && go test -count=1 ./...   # Argo CD's own Lua health evaluator (a module of its own: it pins k8s.io/* v0.34)

.PHONY: bench
bench: k8s-binaries ## Run the Go benchmarks, then the scale benchmark (see bench-scale; also with 1000 AuthorizationPolicies), then the soak (see bench-soak).
	LOOM_K8S_ASSETS=$$(readlink -f $(LOCALBIN)/k8s) go test -run '^$$' -bench . -benchmem ./...
	$(MAKE) --no-print-directory bench-scale ARGS="--authz-policies 1000 $(ARGS)"
	$(MAKE) --no-print-directory bench-ca
	$(MAKE) --no-print-directory bench-soak

.PHONY: bench-scale
bench-scale: k8s-binaries ## Scale benchmark: loom vs a go-control-plane server vs istiod (ARGS="--services 1000 --clients 1000 --peers baseline,istiod"; istiod's first build ~7 min).
	LOOM_K8S_ASSETS=$$(readlink -f $(LOCALBIN)/k8s) go run ./test/bench/scale $(ARGS)

.PHONY: bench-ca
bench-ca: k8s-binaries ## Mesh CA benchmark: certificates/s end to end and 1000 agents' cold start, loom vs istiod (CA_ARGS="--agents 1000 --peers istiod,istiod_no_qps_limit"; istiod's first build ~7 min).
	LOOM_K8S_ASSETS=$$(readlink -f $(LOCALBIN)/k8s) go run ./test/bench/ca $(CA_ARGS)

.PHONY: bench-soak
bench-soak: k8s-binaries ## Soak: loom discovery under config, endpoint and proxy churn for SOAK_ARGS="--duration 3m"; fails if RSS or goroutines grow beyond their bounds.
	LOOM_K8S_ASSETS=$$(readlink -f $(LOCALBIN)/k8s) go run ./test/bench/soak $(SOAK_ARGS)

.PHONY: demo
demo: build k8s-binaries node-binaries demo-images ## Start a local cluster with a real node, install the operator from its image and apply the demo MeshOperator; a client pod splits 80/20 through the control-plane pod (Ctrl-C stops everything; needs root).
	$(TEST_ENV) LOOM_DEMO_IMAGES=$(DEMO_IMAGE_DIR) hack/demo.sh $(DEMO_ARGS)

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate the CRD and RBAC manifests (and the operator chart's copies of them).
	$(CONTROLLER_GEN) rbac:roleName=loom-operator crd paths="./api/v1alpha1/...;./controllers/..." output:crd:artifacts:config=config/crd/bases
	$(CONTROLLER_GEN) crd paths="./api/policy/..." output:crd:artifacts:config=pkg/loomcrds/crds
	cp config/crd/bases/*.yaml charts/loom-operator/files/crds/
	cp config/rbac/role.yaml config/rbac/leader_election_role.yaml charts/loom-operator/files/rbac/

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object paths="./api/..."

.PHONY: verify
verify: ## Check formatting, go vet, and that generated files are current.
	@out=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...
	@before=$$(cat $(GENERATED) | sha256sum); $(MAKE) --no-print-directory manifests generate; \
	  [ "$$before" = "$$(cat $(GENERATED) | sha256sum)" ] || { echo "generated files were stale: regenerated, commit them"; exit 1; }

.PHONY: lint
lint: verify $(GOLANGCI_LINT) ## verify, plus golangci-lint.
	$(GOLANGCI_LINT) run ./...

$(CONTROLLER_GEN):
	mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	mv $(LOCALBIN)/controller-gen $@

$(GOLANGCI_LINT):
	mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(LOCALBIN)/golangci-lint $@

.PHONY: clean
clean: ## Remove bin/ (the Kubernetes binaries cache outside the checkout stays).
	rm -rf $(LOCALBIN)
