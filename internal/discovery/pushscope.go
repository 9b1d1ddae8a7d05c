package discovery

import (
	"sync"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	toolscache "k8s.io/client-go/tools/cache"

	"loom.dev/loom/pkg/model"
	"loom.dev/loom/pkg/xds"
)

var _ xds.ScopedGenerator = (*generator)(nil)

// pendingChanges are the changes made since the last push asked which views they affect.
// Only objects of the policy kinds (model.PolicyKind) are named; any other change,
// including one discovery cannot name (keys, the trust bundle, a kind starting to be
// watched), makes the next push regenerate every view.
type pendingChanges struct {
	mu   sync.Mutex
	all  bool
	refs map[model.ConfigRef]struct{}
}

func (c *pendingChanges) noteAll() {
	c.mu.Lock()
	c.all = true
	c.mu.Unlock()
}

// noteObject notes a change of an Istio object of kind (as watched: the object, or the
// tombstone of a deleted one).
func (c *pendingChanges) noteObject(kind string, obj any) {
	if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	m, err := apimeta.Accessor(obj)
	if err != nil || !model.PolicyKind(kind) {
		c.noteAll()
		return
	}
	c.mu.Lock()
	if c.refs == nil {
		c.refs = map[model.ConfigRef]struct{}{}
	}
	c.refs[model.ConfigRef{Kind: kind, Namespace: m.GetNamespace(), Name: m.GetName()}] = struct{}{}
	c.mu.Unlock()
}

// take returns the changes noted so far and forgets them; all is also true when nothing
// was noted (a push nobody explained regenerates everything).
func (c *pendingChanges) take() (refs map[model.ConfigRef]struct{}, all bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	refs, all = c.refs, c.all || len(c.refs) == 0
	c.refs, c.all = nil, false
	return refs, all
}

// PushScope implements xds.ScopedGenerator. A view is affected by a changed policy object
// if its last generation depended on the object (the model it was generated from selected
// it for the view's proxy) or the current model does: so a policy deleted, or whose
// selector moved away, still reaches the proxies it used to select, and a view generated
// from a model that already held a change is not regenerated for it again.
func (g *generator) PushScope() func(viewKey string) bool {
	refs, all := g.changes.take()
	snap := g.snapshots.get(g.ctx)
	if all {
		g.snapshots.deliveredToAll()
		return nil
	}
	g.mu.Lock()
	views := make(map[string]viewState, len(g.views))
	for key, v := range g.views {
		views[key] = *v // policyDeps is replaced, never changed in place
	}
	g.mu.Unlock()
	affected := map[string]bool{}
	for key, v := range views {
		if dependsOnAny(v.policyDeps, refs) || dependsOnAny(snap.PolicyConfigsFor(v.proxy), refs) {
			affected[key] = true
		}
	}
	return func(key string) bool { return affected[key] }
}

func dependsOnAny(deps, refs map[model.ConfigRef]struct{}) bool {
	small, large := refs, deps
	if len(deps) < len(refs) {
		small, large = deps, refs
	}
	for ref := range small {
		if _, ok := large[ref]; ok {
			return true
		}
	}
	return false
}
