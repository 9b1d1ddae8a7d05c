package discovery

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"loom.dev/loom/pkg/model"
)

// ReadModelInput reads what the model is built from through r once, as every rebuild of
// `loom discovery` does, but without watches: for offline tools such as
// `kubectl mesh translate`. Every enforced Istio kind is listed, so r must answer an empty
// list for a kind the cluster does not serve. JWKS URIs are not fetched (they fail closed).
func ReadModelInput(ctx context.Context, r client.Reader, mesh model.Input) (model.Input, []model.Problem, error) {
	if mesh.DomainSuffix == "" {
		mesh.DomainSuffix = model.DefaultDomainSuffix
	}
	istio := newIstioInputs(enforcedIstioKinds())
	for _, k := range istio.kinds {
		istio.activate(k)
	}
	return readInputs(ctx, &inputReader{Reader: r, istio: istio}, mesh)
}

// EnforcedIstioKinds are the Istio kinds the model acts on, in the versions discovery reads.
func EnforcedIstioKinds() []schema.GroupVersionKind {
	kinds := enforcedIstioKinds()
	out := make([]schema.GroupVersionKind, len(kinds))
	for i, k := range kinds {
		out[i] = k.gvk
	}
	return out
}
