// A proxyless gRPC client on @grpc/grpc-js-xds: sends N unary Echo calls, one after another, to an
// xds:/// target and prints one JSON summary like `grpcecho client`'s:
// {"total":N,"ok":K,"backends":{"name":n},"codes":{"OK":K},"errors":{"msg":n}}.
// Usage: node client.js <target> <n>; the bootstrap comes from GRPC_XDS_BOOTSTRAP(_CONFIG).
'use strict';
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
require('@grpc/grpc-js-xds').register();

const [target, nArg] = process.argv.slice(2);
const n = Number(nArg || 1);
if (!target || !(n > 0)) {
  console.error('usage: node client.js <target> <n>');
  process.exit(2);
}
const def = protoLoader.loadSync(path.join(__dirname, 'echo.proto'), {});
const Echo = grpc.loadPackageDefinition(def).loom.test.Echo;
const client = new Echo(target, grpc.credentials.createInsecure());

const summary = { total: 0, ok: 0, backends: {}, codes: {}, errors: {} };
const count = (m, k) => { m[k] = (m[k] || 0) + 1; };

function call() {
  return new Promise((resolve) => {
    let backend = '';
    const c = client.Echo({ value: 'hi' }, { deadline: Date.now() + 10000 }, (err, resp) => {
      summary.total++;
      if (err) {
        count(summary.codes, grpc.status[err.code] || String(err.code));
        if (Object.keys(summary.errors).length < 20) count(summary.errors, err.details || err.message);
      } else {
        summary.ok++;
        count(summary.codes, 'OK');
        count(summary.backends, backend || resp.fields.name.stringValue);
      }
      resolve();
    });
    c.on('metadata', (md) => { backend = String(md.get('x-backend')[0] || ''); });
  });
}

client.waitForReady(Date.now() + 30000, async (err) => {
  if (err) {
    console.error('channel not ready:', err.message);
    process.exit(1);
  }
  for (let i = 0; i < n; i++) await call();
  console.log(JSON.stringify(summary));
  client.close();
  process.exit(0);
});
