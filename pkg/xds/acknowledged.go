package xds

import "github.com/envoyproxy/go-control-plane/pkg/cache/types"

// Acknowledged counts the streams that subscribe to typeURL (subscribed) and those among
// them whose last ACKed response of it leaves them with at least one resource of the type,
// every one satisfying holds (acked). A response sent and not answered yet does not count:
// acked means the client said it applied the resources.
func (s *Server) Acknowledged(typeURL string, holds func(types.Resource) bool) (acked, subscribed int) {
	decided := map[*resource]bool{} // streams of a view share its resources: decode each once
	holdsResource := func(r *resource) bool {
		ok, seen := decided[r]
		if !seen {
			m, err := r.message()
			ok = err == nil && holds(m)
			decided[r] = ok
		}
		return ok
	}
	for _, st := range s.streamList() {
		sub, ok := st.acknowledged(typeURL, holdsResource)
		if sub {
			subscribed++
		}
		if ok {
			acked++
		}
	}
	return acked, subscribed
}

func (st *stream) acknowledged(typeURL string, holds func(*resource) bool) (subscribed, acked bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	ts := st.types[typeURL]
	if ts == nil || !ts.sub.active() {
		return false, false
	}
	if ts.ackedBase == nil {
		return true, false
	}
	set := ts.ackedBase.types[typeURL]
	if set.len() == 0 {
		return true, false
	}
	for _, r := range set.byName {
		if !holds(r) {
			return true, false
		}
	}
	return true, true
}
