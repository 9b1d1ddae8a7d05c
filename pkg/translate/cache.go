package translate

import (
	"slices"
	"sync"

	"loom.dev/loom/pkg/model"
)

// Cache shares translation work among the proxies of one model: the outbound part of a
// sidecar's config (listeners, routes, clusters and endpoints for the services it calls,
// most of its config) is the same for every sidecar of a namespace unless labels shape
// it (model.Snapshot.LabelsShapeOutbound), so it is built once per namespace, and its
// messages, shared by those proxies' resources, are marshaled once per push. A Cache
// holds one model's parts at a time, and of those only the most recently used few: a
// namespace's outbound messages are megabytes with a thousand services, so a Cache
// holding every namespace's would hold most of a control plane's heap. Proxies asked
// for in order of namespace share each namespace's part. It is safe for concurrent use.
type Cache struct {
	mu       sync.Mutex
	keep     int // parts held at most
	snap     *model.Snapshot
	outbound map[string]*sharedOutbound
	used     []string // outbound's keys, least recently used first
}

type sharedOutbound struct {
	once sync.Once
	out  sidecarOutbound
}

// NewCache returns an empty Cache that holds keep parts at most (at least one).
func NewCache(keep int) *Cache { return &Cache{keep: max(keep, 1)} }

// Release drops every part the Cache holds.
func (c *Cache) Release() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.snap, c.outbound, c.used = nil, nil, nil
}

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
		key += model.LabelsKey(p.Labels)
	}
	e := c.part(snap, key)
	e.once.Do(func() { e.out = buildSidecarOutbound(snap, shared, sc) })
	return e.out
}

// part returns the entry for key in snap's parts, a new one if it holds none, and
// forgets the least recently used parts beyond keep.
func (c *Cache) part(snap *model.Snapshot, key string) *sharedOutbound {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.snap != snap {
		c.snap, c.outbound, c.used = snap, map[string]*sharedOutbound{}, nil
	}
	e := c.outbound[key]
	if e == nil {
		e = &sharedOutbound{}
		c.outbound[key] = e
	} else {
		c.used = slices.DeleteFunc(c.used, func(k string) bool { return k == key })
	}
	c.used = append(c.used, key)
	for len(c.used) > c.keep {
		delete(c.outbound, c.used[0])
		c.used = c.used[1:]
	}
	return e
}
