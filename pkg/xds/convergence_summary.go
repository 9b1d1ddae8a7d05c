package xds

import "sort"

// ProxyConvergence is what one proxy (node id; gRPC opens a stream per channel target) runs, as
// its ADS streams report it: a read-only summary for status writers.
type ProxyConvergence struct {
	NodeID string
	// ViewKey is the view the proxy's streams watch (the first stream's, should they differ).
	ViewKey string
	// Current is true when every stream of the proxy runs its view's current snapshot: sent,
	// ACKed, nothing rejected (see loom_xds_proxies_out_of_date).
	Current bool
	// Types is per type URL, over the proxy's streams.
	Types map[string]TypeConvergence
}

// TypeConvergence is one type's state on a proxy.
type TypeConvergence struct {
	// AckedVersion is the last version the proxy ACKed ("" if none).
	AckedVersion string
	// Rejected is the message of the proxy's NACK when its last answer of the type was a
	// NACK ("" otherwise).
	Rejected string
	// Pending is true while a response of the type is sent and not yet answered.
	Pending bool
}

// Rejection returns the proxy's NACK message of the first type (in send order) whose last
// answer was a NACK, and false when it rejects nothing.
func (p ProxyConvergence) Rejection() (string, bool) {
	typeURLs := make([]string, 0, len(p.Types))
	for t := range p.Types {
		typeURLs = append(typeURLs, t)
	}
	sortTypes(typeURLs)
	for _, t := range typeURLs {
		if msg := p.Types[t].Rejected; msg != "" {
			return msg, true
		}
	}
	return "", false
}

// Convergence summarizes every connected proxy, sorted by node id.
func (s *Server) Convergence() []ProxyConvergence {
	byNode := map[string]*ProxyConvergence{}
	var order []string
	for _, st := range s.proxyStreams() {
		outOfDate := st.outOfDate()
		p := byNode[st.nodeID]
		if p == nil {
			p = &ProxyConvergence{NodeID: st.nodeID, ViewKey: st.view.key, Current: true, Types: map[string]TypeConvergence{}}
			byNode[st.nodeID] = p
			order = append(order, st.nodeID)
		}
		p.Current = p.Current && !outOfDate
		st.summarize(p.Types)
	}
	sort.Strings(order)
	out := make([]ProxyConvergence, 0, len(order))
	for _, id := range order {
		out = append(out, *byNode[id])
	}
	return out
}

// summarize merges the stream's per-type state into types: a NACK or a pending response on
// any stream of the proxy counts.
func (st *stream) summarize(types map[string]TypeConvergence) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for typeURL, ts := range st.types {
		t := types[typeURL]
		if t.AckedVersion == "" {
			t.AckedVersion = ts.ackedVersion
		}
		if t.Rejected == "" && st.rejecting(ts) {
			t.Rejected = ts.nack.Error
		}
		t.Pending = t.Pending || len(ts.pending) > 0
		types[typeURL] = t
	}
}
