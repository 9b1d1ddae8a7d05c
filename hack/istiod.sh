#!/usr/bin/env bash
# Builds Istio's control plane, pilot-discovery (istiod), from the istio.io/istio module on the
# Go module proxy into a versioned cache folder outside the checkout, and skips the build when
# it is present. The scale benchmark (test/bench/scale) runs it as a peer. Prints the binary's
# path on stdout; progress goes to stderr.
#
# The build happens in a temporary copy of the module directory, never in the product module:
# four of Istio's dependencies are pinned to versions the proxy serves (the versions Istio's
# go.mod names are refused). The first build takes about 7 minutes on 2 cores.
set -euo pipefail

ISTIO_VERSION=${ISTIO_VERSION:-v0.0.0-20260827124520-eed52ebb66ad}
dest=${LOOM_ISTIOD_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/loom/istiod-$ISTIO_VERSION}
bin=$dest/pilot-discovery
stamp=$dest/.complete

if [[ -f $stamp && -x $bin ]]; then
  echo "$bin"
  exit 0
fi

log() { echo "istiod: $*" >&2; }
export GOTOOLCHAIN=local GOFLAGS="-buildvcs=false -mod=mod" GOWORK=off
mkdir -p "$dest"

# Only one build at a time (the benchmark and a user may both ask).
exec 9>"$dest/.lock"
flock 9
if [[ -f $stamp && -x $bin ]]; then
  echo "$bin"
  exit 0
fi

log "downloading istio.io/istio@$ISTIO_VERSION"
src=$(cd "${TMPDIR:-/tmp}" && go mod download -json "istio.io/istio@$ISTIO_VERSION" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
[[ -d $src ]] || { log "module directory not found"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/istiod-build.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -r "$src/." "$work/"
chmod -R u+w "$work"
cd "$work"
go mod edit \
  -require=github.com/envoyproxy/go-control-plane/envoy@v1.39.0 \
  -require=github.com/envoyproxy/go-control-plane/contrib@v1.36.1-0.20260729145720-a2d8c7492908 \
  -require=istio.io/api@v1.31.1 \
  -require=istio.io/client-go@v1.31.1

log "building pilot-discovery (about 7 minutes cold)"
go build -trimpath -o "$bin.tmp" ./pilot/cmd/pilot-discovery
mv "$bin.tmp" "$bin"
touch "$stamp"
log "done"
echo "$bin"
