#!/usr/bin/env bash
# The Loom demo: a local cluster, the operator running against it, the sample MeshOperator
# applied and `kubectl get mesh` shown. Runs until Ctrl-C or `bin/loom dev cluster down`, then
# leaves no process behind. With --once it stops by itself after showing the mesh (used by tests).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
loom=${LOOM_BIN:-$root/bin/loom}
assets=${LOOM_K8S_ASSETS:?set LOOM_K8S_ASSETS (make demo does)}
kubectl=$assets/kubectl
once=false
[[ ${1:-} == --once ]] && once=true

cluster_pid="" operator_pid=""
cleanup() {
  trap - EXIT INT TERM
  [[ -n $operator_pid ]] && kill -TERM "$operator_pid" 2>/dev/null || true
  [[ -n $cluster_pid ]] && kill -TERM "$cluster_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  echo "demo stopped; nothing left running"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

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

step "Installing the MeshOperator CRD"
"$kubectl" apply --server-side -k "$root/config/crd"
"$kubectl" wait --for condition=Established crd/meshoperators.operator.loom.dev --timeout 60s

step "Starting the operator (log: $log_dir/operator.log)"
"$loom" operator --kubeconfig "$kubeconfig" --metrics-bind-address 0 --health-probe-bind-address 127.0.0.1:0 \
  >"$log_dir/operator.log" 2>&1 &
operator_pid=$!

step "Applying the demo MeshOperator (control plane, an ingress gateway, Prometheus, Grafana, Jaeger)"
"$kubectl" create namespace loom-demo --dry-run=client -o yaml | "$kubectl" apply -f -
"$kubectl" -n loom-demo create secret generic grafana-admin --from-literal=admin-user=admin \
  --from-literal=admin-password="$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" --dry-run=client -o yaml | "$kubectl" apply -f -
"$kubectl" apply -f "$root/config/samples/mesh_demo.yaml"
"$kubectl" wait --for condition=Ready mesh/loom-demo --timeout 120s

step "kubectl get mesh"
"$kubectl" get mesh

step "What the operator installed"
"$kubectl" get mesh loom-demo -o jsonpath='{range .status.components[*]}{.name}{": ready "}{.readyReplicas}{"/"}{.desiredReplicas}{", version "}{.version}{"\n"}{end}'
"$kubectl" get deploy,svc -n loom-demo -l operator.loom.dev/mesh=loom-demo

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
wait -n "$cluster_pid" "$operator_pid" || true
