#!/usr/bin/env bash
# The Loom demo: a local cluster with a real node, the operator installed from its image as
# `kubectl apply -k config/default` does, the demo MeshOperator applied and `kubectl get mesh`
# shown; then two gRPC echo Deployments and a proxyless client pod in a namespace labelled
# istio-injection=enabled, into which the control plane's injector puts `loom agent` for their mesh
# certificates; the client splits 80/20 over mTLS through the control-plane pod. Needs root (the real node). Runs until Ctrl-C or `bin/loom dev cluster down`,
# then leaves no process behind and the host as it was. With --once it stops by itself after the
# split (used by tests).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
loom=${LOOM_BIN:-$root/bin/loom}
kubectl_mesh=${KUBECTL_MESH:-$root/bin/kubectl-mesh}
images=${LOOM_DEMO_IMAGES:-$root/bin/demo-images}
assets=${LOOM_K8S_ASSETS:?set LOOM_K8S_ASSETS (make demo does)}
kubectl=$assets/kubectl
once=false
[[ ${1:-} == --once ]] && once=true

cluster_pid=""
cleanup() {
  trap - EXIT INT TERM
  [[ -n $cluster_pid ]] && kill -TERM "$cluster_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  echo "demo stopped; nothing left running"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
# kubectl wait fails at once, instead of waiting, while the object has no status.conditions yet.
wait_for() { # wait_for <seconds> <kubectl wait args...>
  local deadline=$((SECONDS + $1)); shift
  until "$kubectl" wait "$@" --timeout 5s 2>/dev/null; do
    if (( SECONDS >= deadline )); then "$kubectl" wait "$@" --timeout 1s; return 1; fi
    sleep 0.5
  done
}

image_args=()
for tarball in "$images"/*.tar; do
  [[ -f $tarball ]] && image_args+=(--image "$tarball")
done
((${#image_args[@]})) || { echo "no image tarballs in $images: run make demo-images" >&2; exit 1; }

step "Starting a local Kubernetes cluster: a real node (kubelet, containerd, kube-proxy, CoreDNS) and a simulated one (kwok)"
"$loom" dev cluster down >/dev/null   # a demo left running elsewhere gives way to this one
"$loom" dev cluster up --real-node --nodes 1 "${image_args[@]}" &
cluster_pid=$!
until kubeconfig=$("$loom" dev cluster kubeconfig 2>/dev/null); do
  kill -0 "$cluster_pid" 2>/dev/null || { echo "the local cluster failed to start" >&2; exit 1; }
  sleep 0.2
done
export KUBECONFIG=$kubeconfig
"$kubectl" get nodes -o wide

step "Installing the operator as a user would: kubectl apply -k config/default (it runs as a pod from Loom's image)"
"$kubectl" apply --server-side -k "$root/config/default"
wait_for 60 --for condition=Established crd/meshoperators.operator.loom.dev crd/meshrevisions.operator.loom.dev
wait_for 120 -n loom-system --for condition=Available deployment/loom-operator

step "Applying the demo MeshOperator (control plane, an ingress gateway, Prometheus, Grafana, Jaeger)"
# The control plane runs on the real node; the gateway and the add-ons, whose images (Envoy,
# Prometheus, Grafana, Jaeger) cannot be built here, run simulated on the kwok node.
"$kubectl" create namespace loom-demo --dry-run=client -o yaml | "$kubectl" apply -f -
"$kubectl" -n loom-demo create secret generic grafana-admin --from-literal=admin-user=admin \
  --from-literal=admin-password="$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" --dry-run=client -o yaml | "$kubectl" apply -f -
simulated='{"nodeSelector":{"type":"kwok"},"tolerations":[{"key":"loom.dev/simulated","operator":"Exists","effect":"NoSchedule"}]}'
"$kubectl" patch --local -f "$root/config/samples/mesh_demo.yaml" --type merge -o yaml \
  -p "{\"spec\":{\"values\":{\"gateway\":$simulated,\"prometheus\":$simulated,\"grafana\":$simulated,\"jaeger\":$simulated}}}" |
  "$kubectl" apply -f -
wait_for 180 --for condition=Ready mesh/loom-demo

step "kubectl get mesh"
"$kubectl" get mesh

step "What the operator installed"
"$kubectl" get mesh loom-demo -o jsonpath='{range .status.components[*]}{.name}{": ready "}{.readyReplicas}{"/"}{.desiredReplicas}{", version "}{.version}{"\n"}{end}'
"$kubectl" get pods -n loom-demo -o wide

step "Two gRPC echo Deployments (v1, v2) behind one Service, an 80/20 VirtualService, in a namespace labelled istio-injection=enabled"
"$kubectl" apply -f "$root/hack/demo/echo.yaml"
wait_for 180 -n grpc-demo --for condition=Available deployment/echo-v1 deployment/echo-v2

step "What the control plane's injector added to an echo pod (grpc-agent template: loom agent for its certificate and bootstrap)"
pod=$("$kubectl" -n grpc-demo get pods -l app=echo,version=v1 -o jsonpath='{.items[0].metadata.name}')
"$kubectl" -n grpc-demo get pod "$pod" -o jsonpath='init containers: {range .spec.initContainers[*]}{.name} ({.args[0]}) {end}{"\n"}containers: {range .spec.containers[*]}{.name} {end}{"\n"}sidecar.istio.io/status: {.metadata.annotations.sidecar\.istio\.io/status}{"\n"}'

step "Istio config is checked before it is stored: kubectl apply --dry-run=server of a VirtualService whose regex Envoy's RE2 refuses"
"$kubectl" apply --dry-run=server -f - <<'VS' 2>&1 || true
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bad-regex, namespace: grpc-demo}
spec:
  hosts: [echo.grpc-demo.svc.cluster.local]
  http:
  - match: [{uri: {regex: "(unclosed"}}]
    route: [{destination: {host: echo.grpc-demo.svc.cluster.local}}]
VS

step "A proxyless gRPC client pod (injected the same way) sends 1000 RPCs through the mesh, over mTLS"
"$kubectl" -n grpc-demo delete pod demo-client --ignore-not-found >/dev/null
"$kubectl" apply -f "$root/hack/demo/client.yaml"
wait_for 180 -n grpc-demo --for jsonpath='{.status.phase}'=Succeeded pod/demo-client
log_dir=$(dirname "$kubeconfig")
"$kubectl" -n grpc-demo logs demo-client -c client >"$log_dir/split.json"
python3 - "$log_dir/split.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"observed split over {s['total']} RPCs ({s['ok']} ok):")
for name, n in sorted(s.get("backends", {}).items()):
    print(f"  {name}: {n} ({100*n/s['total']:.1f}%)")
print("peers' identities (from each side's TLS certificate):")
for ids, n in sorted(s.get("identities", {}).items()):
    server, client = ids.split(" ", 1)
    print(f"  {n} RPCs: {server.replace('=', ' ', 1)}, {client.replace('=', ' ', 1)} (as the server saw it)")
PY

step "Where the split shows in Prometheus"
cat <<MSG
  kubectl -n loom-demo port-forward svc/prometheus 9090:9090, then http://localhost:9090 and the query
    sum by (destination_subset) (loom:outbound_requests:rate1m{destination_service="echo.grpc-demo.svc.cluster.local"})
  (the add-on's recording rule over the Envoy sidecars' stats). Here it stays empty: Prometheus's
  image cannot be built on this machine (the add-on runs on the simulated node) and the demo's
  clients are proxyless gRPC, which export no request metrics. On a cluster with real images and
  sidecar-injected clients it shows the 80/20 split.
MSG

step "kubectl mesh status (the kubectl plugin: conditions, components, revisions, the CA)"
"$kubectl_mesh" status loom-demo

cat <<MSG

The demo is running. In another terminal:
  export KUBECONFIG=$kubeconfig
  $kubectl get mesh
  $kubectl get pods -A -o wide
Stop it with Ctrl-C here, or: $loom dev cluster down
MSG

if $once; then
  exit 0
fi
# Returns when the cluster stops (Ctrl-C, or `loom dev cluster down`).
wait "$cluster_pid" || true
