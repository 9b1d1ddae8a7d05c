package translate

import (
	"fmt"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"

	"loom.dev/loom/pkg/model"
)

// Resources are a proxy's resources by type URL
// (github.com/envoyproxy/go-control-plane/pkg/resource/v3), each list sorted
// by name.
type Resources map[string][]types.Resource

// ForProxy builds everything proxy p sees in snapshot snap. Problems found
// while translating (an unknown subset, weights that do not sum to 100) are
// returned beside the resources: the offending part is left out, the rest
// is kept.
func ForProxy(snap *model.Snapshot, p model.Proxy) (Resources, []model.Problem) {
	switch p.Kind {
	case model.KindGRPC:
		return forGRPC(snap, p)
	case model.KindSidecar:
		return forSidecar(snap, p, nil)
	case model.KindGateway:
		return forGateway(snap, p)
	}
	return nil, []model.Problem{{Kind: "Proxy", Meta: model.Meta{Name: p.ID, Namespace: p.Namespace}, Message: fmt.Sprintf("unknown proxy kind %q", p.Kind)}}
}
