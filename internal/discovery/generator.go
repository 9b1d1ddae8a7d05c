package discovery

import (
	"context"
	"maps"
	"runtime"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/go-logr/logr"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"loom.dev/loom/internal/meshca"
	"loom.dev/loom/pkg/model"
	"loom.dev/loom/pkg/translate"
	"loom.dev/loom/pkg/xds"
)

var _ xds.ViewRemover = (*generator)(nil)

// generator connects the xDS server to the model: it names the view a node
// sees and translates the current snapshot for it.
type generator struct {
	ctx       context.Context
	snapshots *snapshots
	metrics   *metrics
	problems  *problemLog
	// revision is this control plane's; proxies of another one are served
	// all the same (config does not depend on it), counted and logged once
	// per revision: during a canary upgrade it means a proxy reached the
	// wrong control plane.
	revision string
	log      logr.Logger
	// keys decides which Secret keys an authenticated gateway may be sent (nil: none).
	keys *keyAccess
	// trust is the mesh CA's trust bundle, served to every view (PCDS).
	trust *trustBundle
	// translations shares what views of one model have in common (nil: nothing).
	translations *translate.Cache

	// changes are what changed since the last push asked (see PushScope).
	changes pendingChanges

	mu        sync.Mutex
	views     map[string]*viewState
	viewsPeak int             // most views held since views was last reallocated
	warned    map[string]bool // foreign revisions already logged
}

// viewState is what the generator keeps per view.
type viewState struct {
	// proxy is the view's first proxy, which stands for all of them; only
	// their IPs could differ, and those are part of the key when they matter.
	proxy model.Proxy
	// policyDeps are the policy objects its last generation depended on.
	policyDeps map[model.ConfigRef]struct{}
}

// viewProxy returns the proxy a view is generated for.
func (g *generator) viewProxy(key string) (model.Proxy, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	v, ok := g.views[key]
	if !ok {
		return model.Proxy{}, false
	}
	return v.proxy, true
}

func (g *generator) ViewKey(node *corev3.Node) (string, error) {
	return g.ViewKeyFor(context.Background(), node)
}

// ViewKeyFor implements xds.ContextViewKeyer: a proxy that authenticated on the secure port
// must claim its own namespace, and a gateway among them may be sent the keys of the
// Secrets its ServiceAccount may read (its view is its identity's alone).
func (g *generator) ViewKeyFor(ctx context.Context, node *corev3.Node) (string, error) {
	if wantsTrustBundleOnly(node) {
		return trustBundleView, nil
	}
	p, err := ParseNode(node)
	if err != nil {
		return "", err
	}
	authKey := ""
	if id, ok := meshca.CallerFrom(ctx); ok {
		if p.Namespace != id.Namespace {
			return "", status.Errorf(codes.PermissionDenied, "node %q claims namespace %q, but authenticated as %s", node.GetId(), p.Namespace, id)
		}
		if p.Kind == model.KindGateway && g.keys != nil {
			p.KeyAccess = g.keys.forIdentity(id)
			authKey = "|sa=" + id.ServiceAccount
		}
	}
	serves := p.Kind == model.KindGRPC && len(g.snapshots.get(g.ctx).ServicesSelecting(p)) > 0
	key := viewKey(p, serves) + authKey
	g.mu.Lock()
	if p.Revision != "" && !sameRevision(p.Revision, g.revision) {
		g.metrics.foreignRevision.WithLabelValues(p.Revision).Inc()
		if !g.warned[p.Revision] {
			g.warned[p.Revision] = true
			g.log.Info("refused a proxy of another control-plane revision", "node", p.ID, "proxyRevision", p.Revision, "revision", g.revision)
		}
		g.mu.Unlock()
		// A canary isolates its workloads only if each revision serves its own proxies.
		return "", status.Errorf(codes.FailedPrecondition, "node %q belongs to control-plane revision %q, this is revision %q: its bootstrap points at the wrong control plane",
			node.GetId(), p.Revision, revisionName(g.revision))
	}
	if _, ok := g.views[key]; !ok {
		g.views[key] = &viewState{proxy: p}
		g.viewsPeak = max(g.viewsPeak, len(g.views))
	}
	g.mu.Unlock()
	return key, nil
}

func (g *generator) Generate(key string) (map[string][]types.Resource, error) {
	return g.generate(g.ctx, key)
}

func (g *generator) generate(ctx context.Context, key string) (map[string][]types.Resource, error) {
	if key == trustBundleView {
		return g.trustBundleOnly(), nil
	}
	p, ok := g.viewProxy(key)
	if !ok {
		return nil, errUnknownView(key)
	}
	snap := g.snapshots.get(ctx)
	g.snapshots.linkModelBuild(ctx)
	start := time.Now()
	span := startSpan(ctx, spanTranslate, key)
	res, problems := g.translations.ForProxy(snap, p)
	endSpan(span)
	if tb := g.trust.resource(); tb != nil {
		if res == nil {
			res = translate.Resources{}
		}
		res[ProxyConfigType] = []types.Resource{tb}
	}
	g.metrics.translation.Observe(time.Since(start).Seconds())
	g.problems.replace(viewSource(key), problems)
	deps := snap.PolicyConfigsFor(p)
	// A view removed while it was translated must not come back as a
	// problems source; removal and this check both hold g.mu.
	g.mu.Lock()
	if v, ok := g.views[key]; ok {
		v.policyDeps = deps
	} else {
		g.problems.drop(viewSource(key))
	}
	g.mu.Unlock()
	return res, nil
}

// ViewRemoved implements xds.ViewRemover: no proxy needs the view any more,
// so its proxy and its problems are forgotten. A later proxy with the same
// key registers it again through ViewKey.
func (g *generator) ViewRemoved(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.views, key)
	g.problems.drop(viewSource(key))
	// Go maps keep their buckets after deletes: after a churn of many
	// views (a rollout of many label sets), start a smaller one.
	if g.viewsPeak >= 64 && len(g.views) < g.viewsPeak/4 {
		views := make(map[string]*viewState, len(g.views))
		maps.Copy(views, g.views)
		g.views, g.viewsPeak = views, len(views)
	}
}

// PushEnded implements xds.PushEnder: what the push's views shared is dropped, so
// between pushes the heap holds their marshaled config only.
func (g *generator) PushEnded() { g.translations.Release() }

// sharedPartsKept is how many shared parts (a namespace's outbound config) translations
// holds at once: a push generates views in key order, namespace by namespace, on
// GOMAXPROCS workers, so each worker's current namespace and the one it moves to.
func sharedPartsKept() int { return 2 * runtime.GOMAXPROCS(0) }

// viewSource names a view's translation problems on the problem log.
func viewSource(key string) string { return "view " + key }

// EndpointChanges implements xds.EndpointGenerator: the assignments of the
// services whose EndpointSlices changed, from the model updated in place.
func (g *generator) EndpointChanges() func(viewKey string) ([]types.Resource, error) {
	snap, changed := g.snapshots.endpointChanges(g.ctx)
	if snap == nil {
		return nil
	}
	return func(key string) ([]types.Resource, error) {
		p, ok := g.viewProxy(key)
		if !ok {
			return nil, errUnknownView(key)
		}
		return translate.Assignments(snap, p, changed), nil
	}
}

// revisionName names the default revision as Istio does.
func revisionName(rev string) string {
	if rev == "" {
		return "default"
	}
	return rev
}

// sameRevision treats "" and "default" as the default revision, as Istio does.
func sameRevision(a, b string) bool {
	norm := func(r string) string {
		if r == "" {
			return "default"
		}
		return r
	}
	return norm(a) == norm(b)
}

type errUnknownView string

func (e errUnknownView) Error() string { return "unknown view " + string(e) }
