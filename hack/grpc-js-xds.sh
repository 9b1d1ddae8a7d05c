#!/usr/bin/env bash
# Installs @grpc/grpc-js-xds (a second, independent proxyless xDS client, in Node.js) from the npm
# registry into a versioned cache folder outside the checkout and skips the install when it is
# present. test/xds runs test/xds/grpcjs/client.js with NODE_PATH set to the folder this prints.
set -euo pipefail

XDS_VERSION=${GRPC_JS_XDS_VERSION:-1.14.1}
GRPC_JS_VERSION=${GRPC_JS_VERSION:-1.14.5}
PROTO_LOADER_VERSION=${PROTO_LOADER_VERSION:-0.7.15}
dest=${LOOM_GRPC_JS_XDS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/loom/grpc-js-xds-$XDS_VERSION-grpc-js-$GRPC_JS_VERSION}
stamp=$dest/.complete

if [[ -f $stamp ]]; then
  echo "$dest/node_modules"
  exit 0
fi
command -v npm >/dev/null || { echo "grpc-js-xds: npm is needed (Node.js 20 with npm)" >&2; exit 1; }
mkdir -p "$dest"
exec 9>"$dest/.lock"
flock 9
if [[ ! -f $stamp ]]; then
  echo "grpc-js-xds: installing @grpc/grpc-js-xds@$XDS_VERSION into $dest" >&2
  (cd "$dest" && [[ -f package.json ]] || echo '{"name":"loom-grpc-js-xds","private":true}' >"$dest/package.json")
  (cd "$dest" && npm install --no-audit --no-fund --loglevel=error \
    "@grpc/grpc-js-xds@$XDS_VERSION" "@grpc/grpc-js@$GRPC_JS_VERSION" "@grpc/proto-loader@$PROTO_LOADER_VERSION" >&2)
  touch "$stamp"
fi
echo "$dest/node_modules"
