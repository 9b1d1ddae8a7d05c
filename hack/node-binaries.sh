#!/usr/bin/env bash
# Builds what a local dev node runs besides the control plane: kubelet and kube-proxy, the CNI
# plugins bridge, host-local, loopback and portmap, a CoreDNS with only the plugins cluster
# DNS needs, and the pod sandbox binary (test/pause), from the Go module proxy into a versioned cache folder outside the checkout; skips
# the build when they are present. Installs the Debian packages the node runs (containerd,
# runc, iptables, nftables, conntrack) when one is missing and it runs as root. Prints the folder on
# stdout, logs on stderr.
set -euo pipefail

K8S_VERSION=v1.37.1
CNI_VERSION=v1.10.0
COREDNS_VERSION=v1.15.0
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib/kube-ldflags.sh
source "$root/hack/lib/kube-ldflags.sh"
dest=${LOOM_NODE_ASSETS:-${XDG_CACHE_HOME:-$HOME/.cache}/loom/node-k8s-$K8S_VERSION-cni-$CNI_VERSION-coredns-$COREDNS_VERSION}
stamp=$dest/.complete

log() { echo "node-binaries: $*" >&2; }

# has_command finds a command also in the sbin folders, which a non-root PATH often lacks.
has_command() { command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 || -x /sbin/$1 ]]; }

ensure_debian_packages() {
  local missing=() pair
  # command:package
  for pair in containerd:containerd runc:runc iptables:iptables conntrack:conntrack nft:nftables; do
    has_command "${pair%%:*}" || missing+=("${pair#*:}")
  done
  ((${#missing[@]} == 0)) && return 0
  if [[ $(id -u) -ne 0 ]]; then
    log "the node needs the Debian packages ${missing[*]}, which are missing; install them as root:"
    log "  apt-get update && apt-get install -y ${missing[*]}"
    return 0
  fi
  log "installing the Debian packages ${missing[*]}"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
}

# require_pin fails when a tools module pins another version than this script names, so the
# cache folder's name never lies about its contents.
require_pin() {
  local dir=$1 module=$2 version=$3
  if ! grep -Eq "^(require)?[[:space:]]*$module $version( |$)" "$root/$dir/go.mod"; then
    log "$dir/go.mod does not pin $module $version; change both together"
    exit 1
  fi
}

ensure_debian_packages

if [[ -f $stamp ]]; then
  echo "$dest"
  exit 0
fi

require_pin test/tools/kube k8s.io/kubernetes "$K8S_VERSION"
require_pin test/tools/cni github.com/containernetworking/plugins "$CNI_VERSION"
require_pin test/tools/coredns github.com/coredns/coredns "$COREDNS_VERSION"

mkdir -p "$dest/cni"
export GOFLAGS="-buildvcs=false -mod=mod" GOTOOLCHAIN=local

log "building the CNI plugins $CNI_VERSION (under a minute cold)"
(cd "$root/test/tools/cni" && CGO_ENABLED=0 go build -trimpath \
  -ldflags "-s -w -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$CNI_VERSION" \
  -o "$dest/cni/" \
  github.com/containernetworking/plugins/plugins/main/bridge \
  github.com/containernetworking/plugins/plugins/ipam/host-local \
  github.com/containernetworking/plugins/plugins/main/loopback \
  github.com/containernetworking/plugins/plugins/meta/portmap)

log "building pause (the pod sandbox) from test/pause"
(cd "$root" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$dest/pause" ./test/pause)

log "building CoreDNS $COREDNS_VERSION with the cluster DNS plugins (about 4 minutes cold)"
(cd "$root/test/tools/coredns" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$dest/coredns" .)

# Same flags (kube_ldflags) and environment as hack/k8s-binaries.sh: the build cache serves.
log "building kubelet and kube-proxy $K8S_VERSION (about 2 minutes after k8s-binaries, far longer without its build cache)"
ldflags=$(kube_ldflags "$K8S_VERSION")
(cd "$root/test/tools/kube" && go build -trimpath -ldflags "$ldflags" -o "$dest/" \
  k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy)

touch "$stamp"
log "done"
echo "$dest"
