// Package inject decides whether a pod joins the mesh and mutates it the way
// Istio's sidecar injector does. It is a pure function of the namespace, the
// pod and Settings (one injector per control-plane revision); the webhook
// server serves it.
//
// Decide is Istio's injection policy (see its comment). Inject applies one
// of two templates, chosen by inject.istio.io/templates:
//
//   - sidecar (default): init container istio-init runs `loom iptables`
//     (Istio's redirect: outbound to 15001, inbound to 15006, UID/GID 1337
//     exempt); istio-proxy, a native sidecar (an init container with
//     restartPolicy Always), runs `loom agent --proxy envoy` as 1337 from
//     the proxy image. httpGet, tcpSocket and grpc probes of the app are
//     rewritten to :<status port>/app-health/<container>/{readyz,livez,startupz},
//     the originals passed in ISTIO_KUBE_APP_PROBERS.
//   - grpc-agent (proxyless gRPC): istio-agent-init runs `loom agent --once`
//     (first certificate and the xDS bootstrap), then istio-proxy, a native
//     sidecar, renews; app containers get GRPC_XDS_BOOTSTRAP and the agent's
//     files read-only at /var/run/loom. No redirect, no probe rewrite.
//
// Annotations read (Istio's names): sidecar.istio.io/proxyCPU, proxyMemory,
// proxyCPULimit, proxyMemoryLimit (any of them replaces the default
// resources); traffic.sidecar.istio.io/includeOutboundIPRanges,
// excludeOutboundIPRanges, includeInboundPorts, excludeInboundPorts,
// excludeOutboundPorts, includeOutboundPorts; proxy.istio.io/config
// (holdApplicationUntilProxyStarts, terminationDrainDuration, drainDuration,
// concurrency, statusPort, proxyMetadata; other fields warned about);
// sidecar.istio.io/rewriteAppHTTPProbers; sidecar.istio.io/interceptionMode
// (REDIRECT only); status.sidecar.istio.io/port (the agent's status port,
// over ProxyConfig's statusPort; 0: no istio-proxy probes, no probe
// rewrite) and readiness.status.sidecar.istio.io/initialDelaySeconds,
// periodSeconds, failureThreshold; sidecar.istio.io/logLevel and
// componentLogLevel (Envoy's, read as Istio's agent reads them) and
// agentLogLevel (the agent's --zap-log-level); sidecar.istio.io/proxyImage,
// userVolume, userVolumeMount. A bad value is an error naming the
// annotation; Warnings names what is set but not acted on. Written back:
// sidecar.istio.io/status (Istio's JSON), istio.io/rev,
// kubectl.kubernetes.io/default-container and default-logs-container, and
// the labels service.istio.io/canonical-name,
// service.istio.io/canonical-revision and (sidecar only)
// security.istio.io/tlsMode=istio, each only when the pod has none.
package inject
