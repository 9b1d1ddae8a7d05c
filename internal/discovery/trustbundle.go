package discovery

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/cespare/xxhash/v2"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	meshv1alpha1 "istio.io/api/mesh/v1alpha1"

	"loom.dev/loom/pkg/xds"
)

// ProxyConfigType is Istio's PCDS: istiod sends the mesh's trust bundle as a
// mesh.v1alpha1.ProxyConfig's ca_certificates_pem to the agents that subscribe (Istio's
// pilot-agent with dynamic proxy config, and `loom agent`). An ACK says the agent applied
// the bundle: a root rotation waits for it.
const ProxyConfigType = "type.googleapis.com/istio.mesh.v1alpha1.ProxyConfig"

// trustBundleResourceName names the one PCDS resource (Istio's agents ignore the name).
const trustBundleResourceName = "trust-bundle"

// trustBundleOnlyMetadata, "true" in a node's metadata, marks an agent's stream that wants
// the trust bundle alone: it shares one view that translates nothing and is no proxy.
const trustBundleOnlyMetadata = "LOOM_TRUST_BUNDLE_ONLY"

// trustBundleView is the view key of those streams.
const trustBundleView = "trust-bundle"

func wantsTrustBundleOnly(node *corev3.Node) bool {
	return node.GetMetadata().GetFields()[trustBundleOnlyMetadata].GetStringValue() == "true"
}

// Auxiliary implements xds.AuxiliaryViews: a trust-bundle-only stream is no proxy.
func (g *generator) Auxiliary(viewKey string) bool { return viewKey == trustBundleView }

func (g *generator) trustBundleOnly() map[string][]types.Resource {
	if tb := g.trust.resource(); tb != nil {
		return map[string][]types.Resource{ProxyConfigType: {tb}}
	}
	return map[string][]types.Resource{}
}

// trustBundleResource is a ProxyConfig carrying only the trust bundle, named for the xDS
// server.
type trustBundleResource struct {
	*meshv1alpha1.ProxyConfig
}

func (*trustBundleResource) GetName() string { return trustBundleResourceName }

// trustBundle is the bundle every view serves: one resource, shared by all views, so it
// is marshaled once per push.
type trustBundle struct {
	mu   sync.Mutex
	pems []string
	res  *trustBundleResource
}

// set replaces the bundle; it reports whether it changed.
func (t *trustBundle) set(pems []string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if slices.Equal(t.pems, pems) {
		return false
	}
	t.pems = slices.Clone(pems)
	t.res = nil
	if len(pems) > 0 {
		t.res = &trustBundleResource{&meshv1alpha1.ProxyConfig{CaCertificatesPem: t.pems}}
	}
	return true
}

// joined is the bundle as one PEM (nil while there is none).
func (t *trustBundle) joined() []byte {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return joinPEMs(t.pems)
}

// joinPEMs is PEM entries as one PEM, each ending with a newline.
func joinPEMs(pems []string) []byte {
	var out []byte
	for _, p := range pems {
		out = append(out, p...)
		if !strings.HasSuffix(p, "\n") {
			out = append(out, '\n')
		}
	}
	return out
}

// resource is the PCDS resource to serve, nil while there is no bundle.
func (t *trustBundle) resource() types.Resource {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.res == nil {
		return nil
	}
	return t.res
}

// bundleHash identifies a bundle (PEM roots, joined) in the proxy status reports.
func bundleHash(bundle []byte) string {
	return fmt.Sprintf("%016x", xxhash.Sum64(normalizePEM(bundle)))
}

func normalizePEM(b []byte) []byte { return bytes.TrimSpace(b) }

// carries reports whether a served PCDS resource, as the xDS server decodes it from what
// it sent (a plain ProxyConfig), holds exactly bundle.
func carries(r types.Resource, bundle []byte) bool {
	pc, ok := r.(*meshv1alpha1.ProxyConfig)
	if !ok {
		return false
	}
	return bytes.Equal(normalizePEM(joinPEMs(pc.GetCaCertificatesPem())), normalizePEM(bundle))
}

// localBundleAcks counts this server's PCDS subscribers that have not ACKed bundle.
func localBundleAcks(srv *xds.Server, bundle []byte) (lagging int) {
	acked, subscribed := srv.Acknowledged(ProxyConfigType, func(r types.Resource) bool { return carries(r, bundle) })
	return subscribed - acked
}

// trustBundleAcks answers meshca's question for a root rotation: do all connected agents
// hold bundle? This pod's own subscribers are counted live; the other control-plane pods
// (of every revision, in the mesh namespace) report theirs in their proxy status keys.
type trustBundleAcks struct {
	srv   *xds.Server
	peers func(ctx context.Context, hash string) (bool, string) // nil: this pod is alone
	// webhooks checks the apiserver trusts the bundle for the mesh's webhooks (nil: none).
	webhooks func(ctx context.Context, bundle []byte) (bool, string)
}

func (a *trustBundleAcks) acknowledged(ctx context.Context, bundle []byte) (bool, string) {
	if lagging := localBundleAcks(a.srv, bundle); lagging > 0 {
		return false, fmt.Sprintf("%d connected agents of this control-plane pod have not acknowledged it", lagging)
	}
	if a.peers != nil {
		if ok, why := a.peers(ctx, bundleHash(bundle)); !ok {
			return false, why
		}
	}
	if a.webhooks != nil {
		return a.webhooks(ctx, bundle)
	}
	return true, ""
}
