#!/usr/bin/env bash
# Builds the Kubernetes binaries that tests and the demo run (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl, kwok) from the Go module proxy into a
# versioned cache folder outside the checkout, and skips the build when they are present.
# Prints the folder on stdout.
set -euo pipefail

K8S_VERSION=v1.37.1
ETCD_VERSION=v3.6.16
KWOK_VERSION=v0.8.0
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib/kube-ldflags.sh
source "$root/hack/lib/kube-ldflags.sh"
dest=${LOOM_K8S_ASSETS:-${XDG_CACHE_HOME:-$HOME/.cache}/loom/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION}
stamp=$dest/.complete

if [[ -f $stamp ]]; then
  echo "$dest"
  exit 0
fi

log() { echo "k8s-binaries: $*" >&2; }
mkdir -p "$dest"
export GOFLAGS="-buildvcs=false -mod=mod" GOTOOLCHAIN=local

log "building etcd $ETCD_VERSION (about a minute cold)"
(cd "$root/test/tools/etcd" && go build -trimpath -o "$dest/etcd" .)

log "building kube-apiserver, kube-controller-manager, kube-scheduler, kubectl $K8S_VERSION (10+ minutes cold)"
ldflags=$(kube_ldflags "$K8S_VERSION")
(cd "$root/test/tools/kube" && go build -trimpath -ldflags "$ldflags" -o "$dest/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl)

log "building kwok $KWOK_VERSION"
GOBIN="$dest" go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
kwok_dir=$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
rm -rf "$dest/kwok-stages" && mkdir -p "$dest/kwok-stages"
for stage in node/fast/node-initialize node/heartbeat/node-heartbeat pod/fast/pod-complete pod/fast/pod-delete; do
  cp "$kwok_dir/kustomize/stage/$stage.yaml" "$dest/kwok-stages/"
done
chmod -R u+w "$dest/kwok-stages"

touch "$stamp"
log "done"
echo "$dest"
