#!/usr/bin/env bash
# Builds Istio's own binaries from the istio.io/istio module on the Go module proxy into a
# versioned cache folder outside the checkout, and skips those already there:
#   pilot-discovery  istiod, the control plane the scale benchmark (test/bench/scale) runs as a peer
#   pilot-agent      Istio's node agent, the test/xds e2e tests' independent client of Loom's mesh CA
# Usage: hack/istio-binaries.sh NAME...  Prints each binary's path on stdout, one a line, in the
# order asked; progress goes to stderr.
#
# The build happens in a temporary copy of the module directory, never in the product module:
# four of Istio's dependencies are pinned to versions the proxy serves (the versions Istio's
# go.mod names are refused). On 2 cores a cold build takes about 7 minutes for pilot-discovery
# and 4 for pilot-agent; the second binary, with the build cache the first one warmed, about 30 s.
set -euo pipefail

ISTIO_VERSION=${ISTIO_VERSION:-v0.0.0-20260827124520-eed52ebb66ad}
dest=${LOOM_ISTIOD_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/loom/istiod-$ISTIO_VERSION}

log() { echo "istio-binaries: $*" >&2; }

(($# > 0)) || { log "usage: $0 pilot-discovery|pilot-agent..."; exit 2; }
for name in "$@"; do
  case $name in
    pilot-discovery | pilot-agent) ;;
    *) log "unknown binary $name (want pilot-discovery or pilot-agent)"; exit 2 ;;
  esac
done

# pilot-discovery keeps the stamp name it had when it was the only binary, so existing caches stay valid.
stamp() { if [[ $1 == pilot-discovery ]]; then echo "$dest/.complete"; else echo "$dest/.complete-$1"; fi; }
missing() {
  local name
  for name in "$@"; do
    [[ -f $(stamp "$name") && -x $dest/$name ]] || echo "$name"
  done
}
print_paths() {
  local name
  for name in "$@"; do echo "$dest/$name"; done
}

todo=$(missing "$@")
if [[ -z $todo ]]; then
  print_paths "$@"
  exit 0
fi

export GOTOOLCHAIN=local GOFLAGS="-buildvcs=false -mod=mod" GOWORK=off
mkdir -p "$dest"

# Only one build at a time (the benchmark, the tests and a user may all ask).
exec 9>"$dest/.lock"
flock 9
todo=$(missing "$@")
if [[ -z $todo ]]; then
  print_paths "$@"
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

declare -A cold_minutes=([pilot-discovery]=7 [pilot-agent]=4)
for name in $todo; do
  log "building $name (with a cold build cache about ${cold_minutes[$name]} minutes)"
  go build -trimpath -o "$dest/$name.tmp" "./pilot/cmd/$name"
  mv "$dest/$name.tmp" "$dest/$name"
  touch "$(stamp "$name")"
done
log "done"
print_paths "$@"
