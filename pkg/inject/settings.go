package inject

import (
	"fmt"
	"net"

	corev1 "k8s.io/api/core/v1"
)

// Settings describe one injector; one injector serves one control-plane
// revision.
type Settings struct {
	// Revision is the control-plane revision this injector serves, e.g.
	// "default" or "canary". Empty means "default".
	Revision string
	// DefaultRevision makes this injector also serve istio-injection=enabled
	// namespaces, istio.io/rev=default, and pods labelled
	// sidecar.istio.io/inject=true without a revision.
	DefaultRevision bool
	// MeshNamespace is the control plane's namespace; its pods are never
	// injected.
	MeshNamespace string
	TrustDomain   string
	ClusterID     string
	// CAAddress is host:port of the mesh CA (15012).
	CAAddress string
	// XDSAddress is host:port of the plaintext xDS server (15010), written
	// into the grpc-agent template's bootstrap.
	XDSAddress string
	// AgentImage is Loom's image (entrypoint /loom): istio-init and the
	// grpc-agent template's containers.
	AgentImage string
	// ProxyImage is Loom with Envoy (entrypoint /loom): the sidecar
	// template's istio-proxy.
	ProxyImage      string
	ImagePullPolicy corev1.PullPolicy
	// HoldApplicationUntilProxyStarts is the mesh default; the
	// proxy.istio.io/config annotation overrides it per pod.
	HoldApplicationUntilProxyStarts bool
	// ProxyResources are the default resources of the injected containers;
	// any of the sidecar.istio.io/proxy{CPU,Memory,CPULimit,MemoryLimit}
	// annotations replaces them all, as in Istio.
	ProxyResources corev1.ResourceRequirements
}

// Namespace is what the injector needs to know of the pod's namespace.
type Namespace struct {
	Name   string
	Labels map[string]string
}

// revision is the revision name this injector answers to.
func (s Settings) revision() string {
	if s.Revision == "" {
		return defaultRevisionName
	}
	return s.Revision
}

// servesRevision reports whether an istio.io/rev value selects this injector.
// The default revision also answers to "default", as Istio's default tag does.
func (s Settings) servesRevision(rev string) bool {
	return rev == s.revision() || (s.DefaultRevision && rev == defaultRevisionName)
}

// Validate reports the first setting the templates cannot work without.
func (s Settings) Validate() error {
	for _, f := range []struct{ name, value string }{
		{"AgentImage", s.AgentImage}, {"ProxyImage", s.ProxyImage},
		{"CAAddress", s.CAAddress}, {"XDSAddress", s.XDSAddress},
	} {
		if f.value == "" {
			return fmt.Errorf("injector settings: %s is empty", f.name)
		}
	}
	for _, f := range []struct{ name, value string }{{"CAAddress", s.CAAddress}, {"XDSAddress", s.XDSAddress}} {
		if _, port, err := net.SplitHostPort(f.value); err != nil || port == "" {
			return fmt.Errorf("injector settings: %s %q is not host:port", f.name, f.value)
		}
	}
	return nil
}
