package model

// ProxyKind is what kind of xDS client a proxy is.
type ProxyKind string

const (
	// KindSidecar is an Envoy next to a workload.
	KindSidecar ProxyKind = "sidecar"
	// KindGateway is a standalone Envoy configured by Gateway objects.
	KindGateway ProxyKind = "router"
	// KindGRPC is a proxyless gRPC application.
	KindGRPC ProxyKind = "grpc"
)

// Proxy is the identity of a connected xDS client, as far as configuration
// depends on it.
type Proxy struct {
	ID        string
	Kind      ProxyKind
	Namespace string
	Labels    map[string]string
	IPs       []string
	// Revision is the control-plane revision the proxy was set up for
	// ("" for the default one). Config does not depend on it.
	Revision string
}
