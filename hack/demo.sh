#!/usr/bin/env bash
# The Loom demo: a local cluster, the operator running against it, the sample MeshOperator
# applied and `kubectl get mesh` shown. Runs until Ctrl-C or `bin/loom dev cluster down`, then
# leaves no process behind. With --once it stops by itself after showing the mesh (used by tests).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
loom=${LOOM_BIN:-$root/bin/loom}
grpcecho=${LOOM_GRPCECHO_BIN:-$root/bin/grpcecho}
assets=${LOOM_K8S_ASSETS:?set LOOM_K8S_ASSETS (make demo does)}
kubectl=$assets/kubectl
once=false
[[ ${1:-} == --once ]] && once=true

cluster_pid="" operator_pid="" discovery_pid="" echo_pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${echo_pids[@]}" $discovery_pid; do kill -TERM "$pid" 2>/dev/null || true; done
  [[ -n $operator_pid ]] && kill -TERM "$operator_pid" 2>/dev/null || true
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

step "Starting a local Kubernetes cluster (etcd, kube-apiserver, controller-manager, scheduler, kwok)"
"$loom" dev cluster down >/dev/null   # a demo left running elsewhere gives way to this one
"$loom" dev cluster up &
cluster_pid=$!
until kubeconfig=$("$loom" dev cluster kubeconfig 2>/dev/null); do
  kill -0 "$cluster_pid" 2>/dev/null || { echo "the local cluster failed to start" >&2; exit 1; }
  sleep 0.2
done
export KUBECONFIG=$kubeconfig
log_dir=$(dirname "$kubeconfig")

step "Installing the MeshOperator and MeshRevision CRDs"
"$kubectl" apply --server-side -k "$root/config/crd"
wait_for 60 --for condition=Established crd/meshoperators.operator.loom.dev crd/meshrevisions.operator.loom.dev

step "Starting the operator (log: $log_dir/operator.log)"
"$loom" operator --kubeconfig "$kubeconfig" --metrics-bind-address 0 --health-probe-bind-address 127.0.0.1:0 \
  >"$log_dir/operator.log" 2>&1 &
operator_pid=$!

step "Applying the demo MeshOperator (control plane, an ingress gateway, Prometheus, Grafana, Jaeger)"
"$kubectl" create namespace loom-demo --dry-run=client -o yaml | "$kubectl" apply -f -
"$kubectl" -n loom-demo create secret generic grafana-admin --from-literal=admin-user=admin \
  --from-literal=admin-password="$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" --dry-run=client -o yaml | "$kubectl" apply -f -
"$kubectl" apply -f "$root/config/samples/mesh_demo.yaml"
wait_for 120 --for condition=Ready mesh/loom-demo

step "kubectl get mesh"
"$kubectl" get mesh

step "What the operator installed"
"$kubectl" get mesh loom-demo -o jsonpath='{range .status.components[*]}{.name}{": ready "}{.readyReplicas}{"/"}{.desiredReplicas}{", version "}{.version}{"\n"}{end}'
"$kubectl" get deploy,svc -n loom-demo -l operator.loom.dev/mesh=loom-demo

step "Starting loom discovery (the control plane) beside the cluster (log: $log_dir/discovery.log)"
# Pods in this cluster are simulated, so the control plane the operator installed cannot run
# there: the same binary runs here against the same apiserver instead.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
xds_port=$(free_port) monitoring_port=$(free_port)
"$loom" discovery --kubeconfig "$kubeconfig" --xds-address "127.0.0.1:$xds_port" \
  --monitoring-address "127.0.0.1:$monitoring_port" --root-namespace loom-demo >"$log_dir/discovery.log" 2>&1 &
discovery_pid=$!
until curl -sf "http://127.0.0.1:$monitoring_port/ready" >/dev/null; do
  kill -0 "$discovery_pid" 2>/dev/null || { echo "loom discovery failed; see $log_dir/discovery.log" >&2; exit 1; }
  sleep 0.2
done

step "Two gRPC echo services (v1, v2) and an 80/20 VirtualService"
v1_port=$(free_port) v2_port=$(free_port)
"$grpcecho" server --name echo-v1 --listen "127.0.0.1:$v1_port" >"$log_dir/echo-v1.log" 2>&1 & echo_pids+=($!)
"$grpcecho" server --name echo-v2 --listen "127.0.0.1:$v2_port" >"$log_dir/echo-v2.log" 2>&1 & echo_pids+=($!)
"$kubectl" create namespace grpc-demo --dry-run=client -o yaml | "$kubectl" apply -f -
# ServiceEntries stand for the two services: their endpoints may be loopback addresses, which
# EndpointSlices refuse, so the demo needs no root and no network setup.
"$kubectl" apply -n grpc-demo -f - <<YAML
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: echo
spec:
  hosts: [echo.grpc-demo.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {number: 8080, name: grpc, protocol: GRPC}
  endpoints:
  - {address: 127.0.0.1, ports: {grpc: $v1_port}, labels: {version: v1}}
  - {address: 127.0.0.1, ports: {grpc: $v2_port}, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: echo
spec:
  host: echo.grpc-demo.svc.cluster.local
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: echo
spec:
  hosts: [echo.grpc-demo.svc.cluster.local]
  http:
  - route:
    - {destination: {host: echo.grpc-demo.svc.cluster.local, subset: v1}, weight: 80}
    - {destination: {host: echo.grpc-demo.svc.cluster.local, subset: v2}, weight: 20}
YAML

step "A proxyless gRPC client sends 1000 RPCs through loom discovery"
bootstrap=$(printf '{"xds_servers":[{"server_uri":"127.0.0.1:%s","channel_creds":[{"type":"insecure"}],"server_features":["xds_v3"]}],"node":{"id":"sidecar~127.0.0.1~demo-client.grpc-demo~grpc-demo.svc.cluster.local","metadata":{"GENERATOR":"grpc","NAMESPACE":"grpc-demo"}}}' "$xds_port")
GRPC_XDS_BOOTSTRAP_CONFIG=$bootstrap "$grpcecho" client --target xds:///echo.grpc-demo.svc.cluster.local:8080 \
  --n 1000 --wait-for-ready --timeout 10s >"$log_dir/split.json"
python3 - "$log_dir/split.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"observed split over {s['total']} RPCs ({s['ok']} ok):")
for name, n in sorted(s.get("backends", {}).items()):
    print(f"  {name}: {n} ({100*n/s['total']:.1f}%)")
PY

cat <<MSG

The demo is running. In another terminal:
  export KUBECONFIG=$kubeconfig
  $kubectl get mesh
  $kubectl get nodes
Stop it with Ctrl-C here, or: $loom dev cluster down
MSG

if $once; then
  exit 0
fi
# Returns when the cluster or the operator stops (Ctrl-C, or `loom dev cluster down`).
wait -n "$cluster_pid" "$operator_pid" "$discovery_pid" || true
