package xds

import (
	"maps"
	"sort"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/proto"
)

// deltaStream speaks the incremental variant.
type deltaStream struct {
	*stream
	send func(*discoveryv3.DeltaDiscoveryResponse) error
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
	ts.want.merge(ts.sub.applyDelta(req.GetResourceNamesSubscribe(), req.GetResourceNamesUnsubscribe(), first))
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
	var out []*discoveryv3.DeltaDiscoveryResponse
	for _, t := range h.sortedTypes() {
		ts := h.types[t]
		resources, removed, ok := h.build(t, ts, cur, changes[t], all)
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
		out = append(out, resp)
	}
	h.base = cur
	h.mu.Unlock()
	releaseAll(recs)
	for _, resp := range out {
		if err := h.send(resp); err != nil {
			return err
		}
		label := typeLabel(resp.TypeUrl)
		h.srv.metrics.bytesSent.WithLabelValues(label).Add(float64(proto.Size(resp)))
		h.srv.metrics.responses.WithLabelValues(label, string(kindDelta)).Inc()
	}
	return nil
}

// build returns what to send of one type: resources whose version the client
// lacks, and names it must drop or that do not exist. Caller holds h.mu.
func (h *deltaStream) build(t string, ts *typeState, cur *snapshot, ch *typeChange, all bool) ([]*discoveryv3.Resource, []string, bool) {
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
			return ch.deltas, ch.removedSorted, true
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
		return nil, nil, false
	}
	names := make([]string, 0, len(send))
	for n := range send {
		names = append(names, n)
	}
	sort.Strings(names)
	resources := make([]*discoveryv3.Resource, len(names))
	for i, n := range names {
		resources[i] = set.byName[n].delta
	}
	rm := make([]string, 0, len(removed))
	for n := range removed {
		rm = append(rm, n)
	}
	sort.Strings(rm)
	return resources, rm, true
}
