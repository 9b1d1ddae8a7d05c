package xds

import (
	"maps"
	"time"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// EndpointGenerator is implemented by Generators that can rebuild what an
// endpoint change touches without a full Generate. Endpoints change far
// more often than config, and proxies should learn of them at once.
type EndpointGenerator interface {
	// EndpointChanges takes the endpoint changes noted since its last call
	// and returns what builds, for one view, the ClusterLoadAssignments
	// they affect; nil when there is nothing to do. Assignments the view
	// does not have yet are ignored (the full push adds them).
	EndpointChanges() func(viewKey string) ([]types.Resource, error)
}

// pushEndpoints publishes new ClusterLoadAssignments into the views that
// have a snapshot, leaving every other resource as it is.
func (s *Server) pushEndpoints(triggered time.Time) {
	eg, ok := s.gen.(EndpointGenerator)
	if !ok || !s.ready.Load() {
		return
	}
	build := eg.EndpointChanges()
	if build == nil {
		return
	}
	var views []*view
	for _, v := range s.watchedViews() {
		if v.snapshot() != nil {
			views = append(views, v)
		}
	}
	if len(views) == 0 {
		return
	}
	s.push("endpoints", triggered, views, 0, func(v *view, m *marshaler) viewResult {
		if v.gone.Load() {
			return viewResult{}
		}
		list, err := recovering("endpoint generator", func() ([]types.Resource, error) { return build(v.key) })
		if err != nil && v.gone.Load() {
			return viewResult{}
		}
		if err != nil {
			s.log.Error(err, "endpoint update failed; the full push follows", "view", v.key)
			return viewResult{err: err}
		}
		if snap := withEndpoints(v.snapshot(), list, m); snap != nil {
			return viewResult{snap: snap}
		}
		return viewResult{}
	})
}

// withEndpoints returns prev with the given assignments replacing those of
// the same names, or nil if none changed.
func withEndpoints(prev *snapshot, list []types.Resource, m *marshaler) *snapshot {
	set := prev.types[resourcev3.EndpointType]
	if set == nil {
		return nil
	}
	var byName map[string]*resource // copied on the first change
	changed := map[string]struct{}{}
	for _, msg := range list {
		cla, ok := msg.(*endpointv3.ClusterLoadAssignment)
		if !ok {
			continue
		}
		old := set.get(cla.GetClusterName())
		if old == nil {
			continue
		}
		r, err := m.resourceFor(resourcev3.EndpointType, old.name, cla, old)
		if err != nil || sameBytes(r, old) { // r may be another view's resource with old's bytes
			continue
		}
		if byName == nil {
			byName = maps.Clone(set.byName)
		}
		byName[old.name] = r
		changed[old.name] = struct{}{}
	}
	if len(changed) == 0 {
		return nil
	}
	next := &typeSet{byName: byName, names: set.names}
	next.index()
	change := &typeChange{changed: changed, removed: map[string]struct{}{}}
	change.index(next)
	snapTypes := maps.Clone(prev.types)
	snapTypes[resourcev3.EndpointType] = next
	return &snapshot{types: snapTypes, parent: prev.seq, changes: map[string]*typeChange{resourcev3.EndpointType: change}}
}
