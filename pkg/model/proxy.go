package model

import "errors"

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
	// KeyAccess says whether the private key of a Secret in the proxy's namespace (a
	// gateway's credentialName) may be sent to this proxy. Nil, for a proxy that did not
	// authenticate (plaintext xDS), sends none.
	KeyAccess func(secret string) error
}

// MayReceiveKey is nil when the private key of the Secret secret, in the proxy's own
// namespace, may be sent to the proxy, else why not.
func (p Proxy) MayReceiveKey(secret string) error {
	if p.KeyAccess == nil {
		return errUnauthenticatedProxy
	}
	return p.KeyAccess(secret)
}

var errUnauthenticatedProxy = errors.New("the proxy did not authenticate: private keys are sent only over the secure xDS port (15012) to a ServiceAccount allowed to read the Secret")
