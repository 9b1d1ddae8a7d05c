package xds

import (
	"reflect"
	"slices"
	"sort"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// sotwStream speaks the state-of-the-world variant.
type sotwStream struct {
	*stream
	send func(any) error // the gRPC stream's SendMsg
}

func (h *sotwStream) onRequest(req *discoveryv3.DiscoveryRequest) error {
	t := req.GetTypeUrl()
	if t == "" {
		return errNoTypeURL()
	}
	h.mu.Lock()
	ts, first := h.typeState(t)
	if first && req.GetVersionInfo() != "" {
		ts.resumedFrom = req.GetVersionInfo()
		h.resumes(ts, t)
	}
	if n := req.GetResponseNonce(); n != "" {
		h.answer(t, ts, n, req.GetErrorDetail())
	}
	// Every SotW request carries the complete current subscription, and
	// requests arrive in order, so applying even a stale-nonce request leaves
	// the right subscription; only what is new gets sent.
	ts.want.merge(ts.sub.applySotw(req.GetResourceNames(), h.view.typeSet(t)))
	h.mu.Unlock()
	return h.sync()
}

// sync brings the client up to date with the view's current snapshot.
func (h *sotwStream) sync() error { return h.syncTypes(h.send, h.respond) }

// respond builds the response of one type, if there is one to send.
func (h *sotwStream) respond(r typeRound) (any, bool) {
	if h.withhold(&r) {
		return nil, false
	}
	resources, enc, ok := h.build(r.typeURL, r.ts, r.cur, r.change, r.all)
	if !ok {
		return nil, false
	}
	resp := &discoveryv3.DiscoveryResponse{VersionInfo: r.version, Resources: resources, TypeUrl: r.typeURL, Nonce: r.record(len(resources), nil)}
	var body *sharedBody
	if enc != nil {
		body = enc.anys(resources)
	}
	return sotwOutgoing(resp, body), true
}

// withhold reports whether to skip the type because the node rejected its
// current version before this stream (see rejections). The first response
// after withholding carries the whole subscribed set, since the client
// holds an older config than the diffs assume. A subscription change ends
// the withholding: the client asks for something it has never had. Caller
// holds h.mu.
func (h *sotwStream) withhold(r *typeRound) bool {
	ts := r.ts
	if ts.rejected == nil {
		return false
	}
	if withholdSotw(ts.rejected, ts.resumedFrom, r.version) && (!ts.withheld || ts.want.empty()) {
		ts.withheld = true
		ts.want = interest{}
		info := ts.rejected.info
		ts.nack = &info
		return true
	}
	r.all = r.all || ts.withheld
	ts.rejected, ts.withheld = nil, false
	return false
}

// build returns the resources of one type to send, and whether to send a
// response at all. Listener and Cluster responses carry every subscribed
// resource (absence means deletion). Other types carry only what changed or
// was newly requested, and are never sent empty: the spec makes an empty
// response a no-op for them, and some clients have read it as "drop
// everything". A list many streams send as is comes with its shared
// encoding. Caller holds h.mu.
func (h *sotwStream) build(t string, ts *typeState, cur *snapshot, ch *typeChange, all bool) ([]*anypb.Any, *sharedEncoding, bool) {
	set := cur.types[t]
	want := ts.want
	ts.want = interest{}
	sub := &ts.sub
	if fullStateInSotw(t) {
		need := sub.active() && (all || !ts.responded || !want.empty() || touches(ch, sub))
		if !need {
			return nil, nil, false
		}
		if set == nil {
			return nil, nil, true
		}
		names := subscribedExisting(set, sub)
		if set.isAll(names) {
			return set.anys, &set.anysEnc, true
		}
		return set.anysOf(names), nil, true
	}

	var names []string
	if all || want.wildcard || want.allNamed {
		names = subscribedExisting(set, sub)
	} else {
		if ch != nil && want.empty() && ch.covered(sub) {
			return ch.anys, &ch.anysEnc, len(ch.anys) > 0
		}
		if ch != nil {
			for _, n := range ch.changedSorted {
				if sub.has(n) {
					names = append(names, n)
				}
			}
		}
		extra := false
		for _, n := range want.added { // subscribed names, so a changed one is already in
			if !ch.has(n) && set.get(n) != nil {
				names = append(names, n)
				extra = true
			}
		}
		if extra {
			sort.Strings(names)
		}
	}
	if len(names) == 0 {
		return nil, nil, false
	}
	if set.isAll(names) {
		return set.anys, &set.anysEnc, true
	}
	return set.anysOf(names), nil, true
}

// isAll reports whether names (sorted) is every name of the set, so its
// shared list can be sent.
func (t *typeSet) isAll(names []string) bool {
	return t != nil && (sameSlice(names, t.names) || slices.Equal(names, t.names))
}

func (t *typeSet) anysOf(names []string) []*anypb.Any {
	out := make([]*anypb.Any, len(names))
	for i, n := range names {
		out[i] = t.byName[n].any
	}
	return out
}

// subscribedExisting returns, in order, the names of set the subscription covers.
func subscribedExisting(set *typeSet, sub *subscription) []string {
	if set == nil {
		return nil
	}
	if sub.wildcard || subscribesAll(sub, set) {
		return set.names
	}
	var out []string
	for _, n := range sub.sortedNames() {
		if set.get(n) != nil {
			out = append(out, n)
		}
	}
	return out
}

// subscribesAll reports whether the subscription names every resource of the set: the
// common case of clients that subscribe to every cluster's endpoints, answered without
// sorting the subscription's names for every stream, and without looking them up when
// the subscription holds this very set's shared name set.
func subscribesAll(sub *subscription, set *typeSet) bool {
	if sub.shared && sameMap(sub.names, set.sharedNameSet()) {
		return true
	}
	if len(sub.names) != len(set.names) {
		return false
	}
	for _, n := range set.names {
		if _, ok := sub.names[n]; !ok {
			return false
		}
	}
	return true
}

func sameMap(a, b map[string]struct{}) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// touches reports whether a change concerns the subscription.
func touches(ch *typeChange, sub *subscription) bool {
	if ch == nil {
		return false
	}
	if sub.wildcard {
		return len(ch.changed)+len(ch.removed) > 0
	}
	for n := range sub.names {
		if _, ok := ch.changed[n]; ok {
			return true
		}
		if _, ok := ch.removed[n]; ok {
			return true
		}
	}
	return false
}
