package xds

import (
	"maps"
	"sort"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
)

// deltaStream speaks the incremental variant.
type deltaStream struct {
	*stream
	send func(any) error // the gRPC stream's SendMsg
}

func (h *deltaStream) onRequest(req *discoveryv3.DeltaDiscoveryRequest) error {
	t := req.GetTypeUrl()
	if t == "" {
		return errNoTypeURL()
	}
	h.mu.Lock()
	ts, first := h.typeState(t)
	if n := req.GetResponseNonce(); n != "" {
		h.answer(t, ts, n, req.GetErrorDetail())
	}
	if first && len(req.GetInitialResourceVersions()) > 0 {
		ts.initial = maps.Clone(req.GetInitialResourceVersions())
	}
	// Unlike SotW, subscription changes are honored whatever the nonce.
	ts.want.merge(ts.sub.applyDelta(req.GetResourceNamesSubscribe(), req.GetResourceNamesUnsubscribe(), first, h.view.typeSet(t)))
	h.mu.Unlock()
	return h.sync()
}

// sync brings the client up to date with the view's current snapshot.
func (h *deltaStream) sync() error {
	cur, recs := h.view.current(h.stream)
	if cur == nil {
		releaseAll(recs)
		return nil
	}
	h.mu.Lock()
	changes, all := h.view.changesSince(h.base, cur)
	var out []sent
	for _, t := range h.sortedTypes() {
		ts := h.types[t]
		resources, enc, removed, ok := h.build(t, ts, cur, changes[t], all)
		if !ok {
			continue
		}
		set := cur.types[t]
		version := emptyVersion
		if set != nil {
			version = set.version
		}
		resp := &discoveryv3.DeltaDiscoveryResponse{
			SystemVersionInfo: version, Resources: resources, RemovedResources: removed, TypeUrl: t,
		}
		resp.Nonce = h.record(ts, version, len(resources), cur, recs)
		var body []byte
		if enc != nil {
			body = enc.deltas(resources)
		}
		out = append(out, sent{typeURL: t, msg: deltaOutgoing(resp, body)})
	}
	h.base = cur
	h.mu.Unlock()
	releaseAll(recs)
	return h.sendAll(out, h.send)
}

// build returns what to send of one type: resources whose version the client
// lacks (with their shared encoding when many streams send the same list),
// and names it must drop or that do not exist. Caller holds h.mu.
func (h *deltaStream) build(t string, ts *typeState, cur *snapshot, ch *typeChange, all bool) ([]*discoveryv3.Resource, *encodedOnce, []string, bool) {
	set := cur.types[t]
	want := ts.want
	ts.want = interest{}
	sub := &ts.sub
	send := map[string]struct{}{}
	removed := map[string]struct{}{}

	if all || want.wildcard || ts.initial != nil {
		// Compare everything in scope against what the client said it has
		// (initial_resource_versions; nothing if it said nothing).
		known := ts.initial
		ts.initial = nil
		consider := func(n string, explicit bool) {
			r := set.get(n)
			v, had := known[n]
			switch {
			case r != nil && (!had || v != r.version):
				send[n] = struct{}{}
			case r == nil && (had || explicit):
				removed[n] = struct{}{}
			}
		}
		if sub.wildcard {
			if set != nil {
				for _, n := range set.names {
					consider(n, false)
				}
			}
			for n := range known {
				consider(n, false)
			}
		}
		for n := range sub.names {
			consider(n, true)
		}
		// Names the client subscribed to just now must be sent even if it
		// reported having them (it may have forgotten them), unless they came
		// with initial_resource_versions on the stream's first request.
		if known == nil {
			for _, n := range want.added {
				consider(n, true)
			}
		}
	} else {
		if ch != nil && want.empty() && ch.covered(sub) {
			return ch.deltas, &ch.deltasEnc, ch.removedSorted, true
		}
		if ch != nil {
			for n := range ch.changed {
				if sub.has(n) {
					send[n] = struct{}{}
				}
			}
			for n := range ch.removed {
				if sub.has(n) {
					removed[n] = struct{}{}
				}
			}
		}
		for _, n := range want.added {
			if set.get(n) != nil {
				send[n] = struct{}{}
			} else {
				removed[n] = struct{}{}
			}
		}
	}

	// An empty first response still tells a wildcard subscriber that the
	// server has answered (Envoy waits for it to finish initializing).
	if len(send) == 0 && len(removed) == 0 && (ts.responded || !sub.wildcard) {
		return nil, nil, nil, false
	}
	names := make([]string, 0, len(send))
	for n := range send {
		names = append(names, n)
	}
	sort.Strings(names)
	rm := make([]string, 0, len(removed))
	for n := range removed {
		rm = append(rm, n)
	}
	sort.Strings(rm)
	if set.isAll(names) {
		return set.deltas, &set.deltasEnc, rm, true
	}
	resources := make([]*discoveryv3.Resource, len(names))
	for i, n := range names {
		resources[i] = set.byName[n].delta
	}
	return resources, nil, rm, true
}
