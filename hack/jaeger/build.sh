#!/usr/bin/env bash
# Builds Jaeger v2 (github.com/jaegertracing/jaeger/cmd/jaeger, the all-in-one binary that
# receives OTLP and Zipkin spans and serves the query API) from the Go module proxy into a
# versioned cache folder outside the checkout, and skips the build when it is there.
# test/xds's tracing test runs it. Prints the binary's path on stdout; progress goes to stderr.
#
# The build runs in a temporary copy of this folder's wrapper module (go.mod, go.sum, tools.go):
# Jaeger's own go.mod carries a replace directive, so `go install ...@v1.76.0` refuses it.
# With a cold build cache it takes several minutes on 2 cores.
set -euo pipefail

JAEGER_VERSION=v1.76.0
here=$(cd "$(dirname "$0")" && pwd)
dest=${LOOM_JAEGER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/loom/jaeger-$JAEGER_VERSION}
stamp=$dest/.complete

log() { echo "jaeger: $*" >&2; }

if [[ -f $stamp && -x $dest/jaeger ]]; then
  echo "$dest/jaeger"
  exit 0
fi

grep -q "github.com/jaegertracing/jaeger $JAEGER_VERSION" "$here/go.mod" ||
  { log "$here/go.mod does not require jaeger $JAEGER_VERSION"; exit 1; }

export GOTOOLCHAIN=local GOWORK=off GOFLAGS="-buildvcs=false -mod=mod"
mkdir -p "$dest"
# Only one build at a time (make, the tests and a user may all ask).
exec 9>"$dest/.lock"
flock 9
if [[ -f $stamp && -x $dest/jaeger ]]; then
  echo "$dest/jaeger"
  exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/jaeger-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$here/go.mod" "$here/go.sum" "$here/tools.go" "$work/"
log "building github.com/jaegertracing/jaeger/cmd/jaeger $JAEGER_VERSION (several minutes with a cold build cache)"
start=$SECONDS
(cd "$work" && go build -trimpath -o "$dest/jaeger.tmp" github.com/jaegertracing/jaeger/cmd/jaeger)
mv "$dest/jaeger.tmp" "$dest/jaeger"
touch "$stamp"
log "done in $((SECONDS - start)) s"
echo "$dest/jaeger"
