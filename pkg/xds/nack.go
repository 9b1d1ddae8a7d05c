package xds

import (
	"sync"
	"time"

	"github.com/go-logr/logr"
)

// nackInfo is the last rejection of a type by a stream.
type nackInfo struct {
	Nonce   string    `json:"nonce"`
	Version string    `json:"version"`
	Error   string    `json:"error"`
	At      time.Time `json:"at"`
}

// nackLog counts every NACK and logs each (node, type, version) once: a
// proxy that rejects a version keeps its previous config, and the version is
// not resent until the resource changes, but reconnects and sibling streams
// of the same node would otherwise log the same rejection again.
type nackLog struct {
	log     logr.Logger
	metrics *metrics

	mu     sync.Mutex
	logged map[nackKey]struct{}
}

type nackKey struct{ node, typeURL, version string }

// maxLoggedNacks bounds the dedupe set; when full it starts over, which at
// worst logs a rejection a second time.
const maxLoggedNacks = 10000

func newNackLog(log logr.Logger, m *metrics) *nackLog {
	return &nackLog{log: log, metrics: m, logged: map[nackKey]struct{}{}}
}

// record is called with st.mu held.
func (n *nackLog) record(st *stream, typeURL string, ts *typeState, r sentResponse, msg string) {
	ts.nack = &nackInfo{Nonce: r.nonce, Version: r.version, Error: msg, At: time.Now()}
	// Counted last: once the counter shows a NACK, its log line (if any) is written.
	defer n.metrics.nacks.WithLabelValues(typeLabel(typeURL)).Inc()
	key := nackKey{st.nodeID, typeURL, r.version}
	n.mu.Lock()
	_, seen := n.logged[key]
	if !seen {
		if len(n.logged) >= maxLoggedNacks {
			n.logged = map[nackKey]struct{}{}
		}
		n.logged[key] = struct{}{}
	}
	n.mu.Unlock()
	if !seen {
		n.log.Info("proxy rejected config (NACK); it keeps its previous config and this version is not resent",
			"node", st.nodeID, "view", st.view.key, "type", typeURL, "version", r.version, "nonce", r.nonce, "error", msg)
	}
}
