package xds

import (
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// outOfDateCollector exports loom_xds_proxies_out_of_date, counted when scraped: walking
// the streams then costs nothing between scrapes and the count can never drift from the
// streams' own state.
type outOfDateCollector struct {
	desc   *prometheus.Desc
	server atomic.Pointer[Server]
}

func newOutOfDateCollector() *outOfDateCollector {
	return &outOfDateCollector{desc: prometheus.NewDesc("loom_xds_proxies_out_of_date",
		"Connected ADS streams that do not run their view's current config: a newer snapshot is not "+
			"sent to them yet, a response is not yet ACKed, or the last answer of a type was a NACK.",
		nil, nil)}
}

// watch binds the collector to the server whose streams it counts.
func (c *outOfDateCollector) watch(s *Server) { c.server.Store(s) }

func (c *outOfDateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect reports nothing until watch is called, rather than a count of zero it does not know.
func (c *outOfDateCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.server.Load()
	if s == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(s.outOfDateStreams()))
}

func (s *Server) outOfDateStreams() int {
	n := 0
	for _, st := range s.proxyStreams() {
		if st.outOfDate() {
			n++
		}
	}
	return n
}

// outOfDate says whether the stream's proxy does not (yet) run the config of its view's
// current snapshot.
func (st *stream) outOfDate() bool {
	cur := st.view.snapshot() // view.mu before st.mu, never both held
	st.mu.Lock()
	defer st.mu.Unlock()
	if cur != nil && st.base != cur {
		return true
	}
	for _, ts := range st.types {
		if len(ts.pending) > 0 || ts.withheld || st.rejecting(ts) {
			return true
		}
	}
	return false
}

// rejecting says whether the type's last answer was a NACK. A NACK remembered from an
// earlier stream of the node (see rejections) carries that stream's nonce: it stands
// until this stream ACKs something of the type. Caller holds st.mu.
func (st *stream) rejecting(ts *typeState) bool {
	if ts.nack == nil {
		return false
	}
	if ts.nack.At.Before(st.connected) {
		return ts.ackedNonce == ""
	}
	return nonceNumber(ts.nack.Nonce) > nonceNumber(ts.ackedNonce)
}

// nonceNumber reads a nonce this server wrote (a per-stream counter); "" is 0.
func nonceNumber(nonce string) uint64 {
	n, _ := strconv.ParseUint(nonce, 10, 64)
	return n
}
