package translate

import (
	"slices"
	"strings"
	"sync"

	"loom.dev/loom/pkg/model"
)

// Cache shares translation work among the proxies of one model: the outbound part of a
// sidecar's config (listeners, routes, clusters and endpoints for the services it calls,
// most of its config) is the same for every sidecar of a namespace unless labels shape
// it (model.Snapshot.LabelsShapeOutbound), so it is built once per namespace, and its
// messages, shared by those proxies' resources, are marshaled once per push. A Cache
// holds one model's parts at a time and is safe for concurrent use.
type Cache struct {
	mu       sync.Mutex
	snap     *model.Snapshot
	outbound map[string]*sharedOutbound
}

type sharedOutbound struct {
	once sync.Once
	out  sidecarOutbound
}

// NewCache returns an empty Cache.
func NewCache() *Cache { return &Cache{} }

// ForProxy is ForProxy sharing c's parts; the result is the same.
func (c *Cache) ForProxy(snap *model.Snapshot, p model.Proxy) (Resources, []model.Problem) {
	if p.Kind == model.KindSidecar {
		return forSidecar(snap, p, c)
	}
	return ForProxy(snap, p)
}

// sidecarOutbound returns the outbound part of p's config, built for the proxy that stands
// for every proxy sharing it: p's kind and namespace, and its labels only if labels shape
// the namespace's outbound config. A nil Cache builds it for p itself.
func (c *Cache) sidecarOutbound(snap *model.Snapshot, p model.Proxy, sc *model.Sidecar) sidecarOutbound {
	if c == nil {
		return buildSidecarOutbound(snap, p, sc)
	}
	shared := model.Proxy{ID: "outbound~" + p.Namespace, Kind: p.Kind, Namespace: p.Namespace}
	key := string(p.Kind) + "|" + p.Namespace
	if snap.LabelsShapeOutbound(p.Namespace) {
		shared.Labels = p.Labels
		key += labelsKey(p.Labels)
	}
	c.mu.Lock()
	if c.snap != snap {
		c.snap, c.outbound = snap, map[string]*sharedOutbound{}
	}
	e := c.outbound[key]
	if e == nil {
		e = &sharedOutbound{}
		c.outbound[key] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.out = buildSidecarOutbound(snap, shared, sc) })
	return e.out
}

func labelsKey(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString("|" + k + "=" + labels[k])
	}
	return b.String()
}
