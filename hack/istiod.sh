#!/usr/bin/env bash
# Builds Istio's control plane, pilot-discovery (istiod), from the istio.io/istio module on the
# Go module proxy into a versioned cache folder outside the checkout, and skips the build when
# it is present. The scale benchmark (test/bench/scale) runs it as a peer. Prints the binary's
# path on stdout; progress goes to stderr. hack/istio-binaries.sh does the work (it also builds
# pilot-agent from the same module copy into the same folder); the first build takes about
# 7 minutes on 2 cores.
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/istio-binaries.sh" pilot-discovery
