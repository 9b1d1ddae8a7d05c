// Package translate turns a model.Snapshot into the Envoy resources one
// proxy sees: listeners, routes, clusters, endpoints and secrets. It is pure:
// the same snapshot and proxy always give the same resources, and it imports
// no Kubernetes or xDS-serving code.
//
// Builders are shared between proxy kinds: clusters, endpoints and HTTP
// routes are the same for an Envoy sidecar, an Envoy gateway and a
// proxyless gRPC client; only the listeners differ per kind.
package translate
