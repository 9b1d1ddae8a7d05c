package xds

import (
	"sync"
	"time"
)

// A new stream knows nothing of what its node rejected before: istiod
// answers a reconnecting proxy with its current config, NACKed or not, so
// a proxy that rejected version V is sent V again each time it reconnects
// (and rejects it again). Loom remembers each node's last NACK per type for
// a bounded time and does not resend the rejected version to a node that
// reconnects holding an older accepted config (SotW version_info, delta
// initial_resource_versions): it keeps what it has, exactly as it would
// have on the old stream, and gets everything else. A node that reconnects
// with nothing (a restarted proxy) is sent the current config, rejected or
// not: something may be better than nothing, and it may now accept it.

// rejection is a node's last NACK of a type.
type rejection struct {
	version string
	// resources holds name -> version of the resources of a rejected delta
	// response (nil for SotW, whose versions are per type).
	resources map[string]string
	info      nackInfo
	at        time.Time
}

// rejections remembers the last rejection per node and type for ttl, for at
// most maxRememberedNodes nodes.
type rejections struct {
	ttl time.Duration

	mu     sync.Mutex
	byNode map[string]map[string]*rejection // node id -> type URL -> rejection
}

const maxRememberedNodes = 10000

func newRejections(ttl time.Duration) *rejections {
	return &rejections{ttl: ttl, byNode: map[string]map[string]*rejection{}}
}

func (r *rejections) remember(node, typeURL string, rej *rejection) {
	r.mu.Lock()
	defer r.mu.Unlock()
	types := r.byNode[node]
	if types == nil {
		if len(r.byNode) >= maxRememberedNodes {
			r.evictLocked(rej.at)
		}
		types = map[string]*rejection{}
		r.byNode[node] = types
	}
	types[typeURL] = rej
}

// evictLocked drops expired nodes, or, if none is, an arbitrary one.
func (r *rejections) evictLocked(now time.Time) {
	for node, types := range r.byNode {
		for t, rej := range types {
			if now.Sub(rej.at) >= r.ttl {
				delete(types, t)
			}
		}
		if len(types) == 0 {
			delete(r.byNode, node)
		}
	}
	for node := range r.byNode {
		if len(r.byNode) < maxRememberedNodes {
			break
		}
		delete(r.byNode, node)
	}
}

// acked forgets a rejection once the node accepts another version of the
// type. Another stream of the node accepting the rejected version itself
// (gRPC opens one per channel target, each for other names) does not clear
// it.
func (r *rejections) acked(node, typeURL, version string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	types := r.byNode[node]
	if rej := types[typeURL]; rej != nil && rej.version != version {
		delete(types, typeURL)
		if len(types) == 0 {
			delete(r.byNode, node)
		}
	}
}

// lookup returns the node's unexpired rejection of a type, or nil.
func (r *rejections) lookup(node, typeURL string, now time.Time) *rejection {
	r.mu.Lock()
	defer r.mu.Unlock()
	rej := r.byNode[node][typeURL]
	if rej == nil || now.Sub(rej.at) >= r.ttl {
		return nil
	}
	return rej
}

// withholdSotw decides whether a SotW stream skips a type at version cur: the
// node rejected cur before and the client holds another accepted version.
func withholdSotw(rej *rejection, clientVersion, cur string) bool {
	return rej != nil && clientVersion != "" && clientVersion != rej.version && cur == rej.version
}

// withheldDelta returns the resources a reconnecting delta client is not
// sent: those of its rejected response that are still at the rejected
// version, which the client does not say it holds. current gives a
// resource's version now ("" if absent). A client that holds nothing
// (empty initial) is sent everything.
func withheldDelta(rej *rejection, initial map[string]string, current func(string) string) map[string]string {
	if rej == nil || len(initial) == 0 {
		return nil
	}
	var out map[string]string
	for name, v := range rej.resources {
		if initial[name] == v || current(name) != v {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[name] = v
	}
	return out
}

// rejectionOf is what a NACK of r teaches about the node.
func rejectionOf(r sentResponse, info *nackInfo) *rejection {
	rej := &rejection{version: r.version, info: *info, at: info.At}
	if r.delta != nil {
		rej.resources = make(map[string]string, len(r.delta))
		for _, res := range r.delta {
			rej.resources[res.GetName()] = res.GetVersion()
		}
	}
	return rej
}

// versionOf is a resource's version, "" if the set lacks it.
func (t *typeSet) versionOf(name string) string {
	if r := t.get(name); r != nil {
		return r.version
	}
	return ""
}
