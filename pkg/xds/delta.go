package xds

import (
	"maps"
	"slices"

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
		h.resumes(ts, t)
	}
	// Unlike SotW, subscription changes are honored whatever the nonce.
	ts.want.merge(ts.sub.applyDelta(req.GetResourceNamesSubscribe(), req.GetResourceNamesUnsubscribe(), first, h.view.typeSet(t)))
	h.mu.Unlock()
	return h.sync()
}

// sync brings the client up to date with the view's current snapshot.
func (h *deltaStream) sync() error { return h.syncTypes(h.send, h.respond) }

// respond builds the response of one type, if there is one to send.
func (h *deltaStream) respond(r typeRound) (any, bool) {
	resources, enc, removed, ok := h.build(r.typeURL, r.ts, r.cur, r.change, r.all)
	if !ok {
		return nil, false
	}
	resp := &discoveryv3.DeltaDiscoveryResponse{
		SystemVersionInfo: r.version, Resources: resources, RemovedResources: removed, TypeUrl: r.typeURL, Nonce: r.record(len(resources), resources),
	}
	var body *sharedBody
	if enc != nil {
		body = enc.deltas(resources)
	}
	return deltaOutgoing(resp, body), true
}

// build returns what to send of one type: resources whose version the client
// lacks (with their shared encoding when many streams send the same list),
// and names it must drop or that do not exist. Caller holds h.mu.
func (h *deltaStream) build(t string, ts *typeState, cur *snapshot, ch *typeChange, all bool) ([]*discoveryv3.Resource, *sharedEncoding, []string, bool) {
	set := cur.types[t]
	want := ts.want
	ts.want = interest{}
	sub := &ts.sub
	var send, removed []string

	if all || want.wildcard || ts.initial != nil {
		// Compare everything in scope against what the client said it has
		// (initial_resource_versions; nothing if it said nothing).
		known := ts.initial
		ts.initial = nil
		// Resources the node rejected before this stream count as held at
		// the rejected version, so they are not sent again (see rejections).
		if w := withheldDelta(ts.rejected, known, set.versionOf); w != nil {
			maps.Copy(known, w)
			info := ts.rejected.info
			ts.nack = &info
		}
		ts.rejected = nil
		consider := func(n string, explicit bool) {
			r := set.get(n)
			v, had := known[n]
			switch {
			case r != nil && (!had || v != r.version):
				send = append(send, n)
			case r == nil && (had || explicit):
				removed = append(removed, n)
			}
		}
		if known == nil {
			// The client has nothing: everything subscribed that exists.
			send = slices.Clip(subscribedExisting(set, sub))
			for n := range sub.names {
				if set.get(n) == nil {
					removed = append(removed, n)
				}
			}
			// Names the client subscribed to just now must be sent even if
			// they are no longer subscribed (unsubscribed in the same
			// request, or while the wildcard stays on).
			for _, n := range want.added {
				if _, explicit := sub.names[n]; !explicit {
					consider(n, true)
				}
			}
		} else {
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
		}
	} else {
		if ch != nil && want.empty() && ch.covered(sub) {
			return ch.deltas, &ch.deltasEnc, ch.removedSorted, true
		}
		if want.allNamed {
			// Clipped: it may be the snapshot's own list, which appending must not touch.
			send = slices.Clip(subscribedExisting(set, sub))
		} else if ch != nil {
			for _, n := range ch.changedSorted {
				if sub.has(n) {
					send = append(send, n)
				}
			}
		}
		if ch != nil {
			for _, n := range ch.removedSorted {
				if sub.has(n) {
					removed = append(removed, n)
				}
			}
		}
		for _, n := range want.added {
			if set.get(n) != nil {
				send = append(send, n)
			} else {
				removed = append(removed, n)
			}
		}
	}

	// An empty first response still tells a wildcard subscriber that the
	// server has answered (Envoy waits for it to finish initializing).
	if len(send) == 0 && len(removed) == 0 && (ts.responded || !sub.wildcard) {
		return nil, nil, nil, false
	}
	if set == nil || !sameSlice(send, set.names) { // the set's own list is sorted
		send = sortedSet(send)
	}
	removed = sortedSet(removed)
	if set.isAll(send) {
		return set.deltas, &set.deltasEnc, removed, true
	}
	resources := make([]*discoveryv3.Resource, len(send))
	for i, n := range send {
		resources[i] = set.byName[n].delta
	}
	return resources, nil, removed, true
}

// sortedSet returns names sorted and without repeats, reusing names when it
// already is (it may be a snapshot's shared list, which is never modified).
func sortedSet(names []string) []string {
	ordered := true
	for i := 1; i < len(names) && ordered; i++ {
		ordered = names[i-1] < names[i]
	}
	if ordered {
		return names
	}
	out := slices.Clone(names)
	slices.Sort(out)
	return slices.Compact(out)
}
