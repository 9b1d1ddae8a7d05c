package xds

import (
	"encoding/json"
	"net/http"
	"sort"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
)

// TypeStatus is one stream's state for one type URL.
type TypeStatus struct {
	Wildcard      bool      `json:"wildcard"`
	Subscribed    int       `json:"subscribed"` // explicitly named resources
	SentVersion   string    `json:"sentVersion,omitempty"`
	SentNonce     string    `json:"sentNonce,omitempty"`
	SentAt        time.Time `json:"sentAt,omitzero"`
	SentResources int       `json:"sentResources"` // in the last response
	AckedVersion  string    `json:"ackedVersion,omitempty"`
	AckedNonce    string    `json:"ackedNonce,omitempty"`
	Unanswered    int       `json:"unanswered"` // responses not yet ACKed or NACKed
	LastNack      *nackInfo `json:"lastNack,omitempty"`
}

// ProxyStatus is one connected ADS stream. A node may hold several streams
// (gRPC opens one per channel target).
type ProxyStatus struct {
	Stream      uint64                `json:"stream"`
	Node        string                `json:"node"`
	View        string                `json:"view"`
	Kind        string                `json:"kind"` // sotw or delta
	ConnectedAt time.Time             `json:"connectedAt"`
	Types       map[string]TypeStatus `json:"types"` // by type URL
}

// Proxies lists the connected streams, ordered by node id then stream.
func (s *Server) Proxies() []ProxyStatus {
	streams := s.streamList()
	out := make([]ProxyStatus, 0, len(streams))
	for _, st := range streams {
		p := ProxyStatus{Stream: st.id, Node: st.nodeID, View: st.view.key, Kind: string(st.kind),
			ConnectedAt: st.connected, Types: map[string]TypeStatus{}}
		st.mu.Lock()
		for t, ts := range st.types {
			p.Types[t] = TypeStatus{
				Wildcard: ts.sub.wildcard, Subscribed: ts.sub.count(),
				SentVersion: ts.sentVersion, SentNonce: ts.sentNonce, SentAt: ts.sentAt, SentResources: ts.sentResources,
				AckedVersion: ts.ackedVersion, AckedNonce: ts.ackedNonce, Unanswered: len(ts.pending), LastNack: ts.nack,
			}
		}
		st.mu.Unlock()
		out = append(out, p)
	}
	return out
}

func (s *Server) streamList() []*stream {
	s.mu.Lock()
	out := make([]*stream, 0, len(s.streams))
	for _, st := range s.streams {
		out = append(out, st)
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].nodeID != out[j].nodeID {
			return out[i].nodeID < out[j].nodeID
		}
		return out[i].id < out[j].id
	})
	return out
}

// DebugHandler serves /debug/syncz, /debug/config_dump?proxy=<node id> and
// /debug/push_status as JSON.
func (s *Server) DebugHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/syncz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Proxies())
	})
	mux.HandleFunc("/debug/push_status", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		views, streams := len(s.views), len(s.streams)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{
			"ready":       s.ready.Load(),
			"pushes":      s.pushCount.Load(),
			"generations": s.generations.Load(),
			"marshals":    s.marshalCount.Load(),
			"views":       views,
			"streams":     streams,
			"lastPush":    s.PushStatus(),
		})
	})
	mux.HandleFunc("/debug/config_dump", s.serveConfigDump)
	return mux
}

// dumpedType is what a proxy holds of one type: the resources of the last
// snapshot it ACKed, restricted to its current subscription.
type dumpedType struct {
	AckedVersion string            `json:"ackedVersion,omitempty"`
	LastNack     *nackInfo         `json:"lastNack,omitempty"`
	Resources    []json.RawMessage `json:"resources"`
}

type dumpedStream struct {
	Stream uint64                 `json:"stream"`
	View   string                 `json:"view"`
	Kind   string                 `json:"kind"`
	Types  map[string]*dumpedType `json:"types"`
}

// serveConfigDump shows, per stream of the node, the resources the proxy
// currently has as far as the server knows: those of the last response it
// ACKed for each type. After a NACK of a partial (non Listener/Cluster) SotW
// or delta response, a later ACK of another response of that type counts
// the rejected versions as held too; lastNack shows the rejection.
func (s *Server) serveConfigDump(w http.ResponseWriter, r *http.Request) {
	node := r.URL.Query().Get("proxy")
	if node == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "missing ?proxy=<node id>"})
		return
	}
	var out []dumpedStream
	for _, st := range s.streamList() {
		if st.nodeID != node {
			continue
		}
		ds := dumpedStream{Stream: st.id, View: st.view.key, Kind: string(st.kind), Types: map[string]*dumpedType{}}
		st.mu.Lock()
		for t, ts := range st.types {
			dt := &dumpedType{AckedVersion: ts.ackedVersion, LastNack: ts.nack, Resources: []json.RawMessage{}}
			if ts.ackedBase != nil {
				for _, n := range subscribedExisting(ts.ackedBase.types[t], &ts.sub) {
					dt.Resources = append(dt.Resources, resourceJSON(ts.ackedBase.types[t].byName[n]))
				}
			}
			ds.Types[t] = dt
		}
		st.mu.Unlock()
		out = append(out, ds)
	}
	if len(out) == 0 {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no stream for node " + node})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"node": node, "streams": out})
}

var dumpOpts = protojson.MarshalOptions{UseProtoNames: true}

// resourceJSON renders a resource without private keys; a message whose nested Any types are not
// linked into the binary is shown by name and version only.
func resourceJSON(r *resource) json.RawMessage {
	b, err := dumpOpts.Marshal(withoutKeys(r))
	if err == nil {
		return b
	}
	b, _ = json.Marshal(map[string]string{"name": r.name, "version": r.version, "error": err.Error()})
	return b
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
