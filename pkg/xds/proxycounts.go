package xds

// ProxyCounts is how many proxies (distinct node ids: gRPC opens a stream per channel
// target) hold ADS streams to this server, and how many of them do not run their view's
// current config on every stream (see loom_xds_proxies_out_of_date).
type ProxyCounts struct {
	Connected int `json:"connected"`
	OutOfDate int `json:"outOfDate"`
}

// Counts counts the server's proxies now.
func (s *Server) Counts() ProxyCounts {
	outOfDate := map[string]bool{}
	for _, st := range s.proxyStreams() {
		outOfDate[st.nodeID] = outOfDate[st.nodeID] || st.outOfDate()
	}
	c := ProxyCounts{Connected: len(outOfDate)}
	for _, stale := range outOfDate {
		if stale {
			c.OutOfDate++
		}
	}
	return c
}
