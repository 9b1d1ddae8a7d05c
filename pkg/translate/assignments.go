package translate

import (
	"slices"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"

	"loom.dev/loom/pkg/model"
)

// Assignments builds the ClusterLoadAssignments proxy p has for the given
// services of snap, exactly as ForProxy would: for an endpoint change, only
// the assignments of the services whose endpoints changed need rebuilding.
// Services the proxy does not see (another namespace's service under the
// same hostname, outside its Sidecar's egress) give nothing.
func Assignments(snap *model.Snapshot, p model.Proxy, services []*model.Service) []types.Resource {
	visible := servicesFor(snap, p)
	var seen []*model.Service
	for _, svc := range services {
		if slices.Contains(visible, svc) {
			seen = append(seen, svc)
		}
	}
	if len(seen) == 0 {
		return nil
	}
	_, assignments, _ := outboundClusters(snap, p, seen)
	return assignments
}

// servicesFor is the list of services ForProxy translates for p.
func servicesFor(snap *model.Snapshot, p model.Proxy) []*model.Service {
	if p.Kind == model.KindGateway {
		return gatewayServices(snap, p)
	}
	return snap.ServicesFor(p)
}
