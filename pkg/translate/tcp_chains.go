package translate

import (
	"slices"
	"strconv"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// chainMatch is the run-time match of one filter chain; zero values match
// anything.
type chainMatch struct {
	port        uint32
	prefixes    []string // normalized CIDRs
	serverNames []string
	sniffHTTP   bool // only plaintext HTTP, as seen by http_inspector
	// tls matches only TLS connections (tls_inspector); meshALPN narrows
	// that to clients offering Istio's mesh ALPN values.
	tls, meshALPN bool
}

type chainKey struct {
	port          uint32
	prefix        string
	serverName    string
	sniffHTTP     bool
	tls, meshALPN bool
}

// chainSet collects the filter chains of one listener. Envoy rejects a
// listener in which two chains share a match, and could reach only one of
// them anyway, so the first chain to claim a match keeps it: a later chain
// loses its overlapping server names (or prefixes), and is left out when
// nothing remains.
type chainSet struct {
	claimed map[chainKey]bool
	names   map[string]bool
	chains  []*listenerv3.FilterChain
	// needTLS and needHTTP say which inspectors the listener needs.
	needTLS, needHTTP bool
}

func newChainSet() *chainSet {
	return &chainSet{claimed: map[chainKey]bool{}, names: map[string]bool{}}
}

func (s *chainSet) add(m chainMatch, name string, filters []*listenerv3.Filter, ts *corev3.TransportSocket) bool {
	prefixes := m.prefixes
	if len(prefixes) == 0 {
		prefixes = []string{""}
	}
	free := func(prefix, serverName string) bool {
		return !s.claimed[chainKey{m.port, prefix, serverName, m.sniffHTTP, m.tls, m.meshALPN}]
	}
	names := []string{""}
	if len(m.serverNames) > 0 {
		names = names[:0]
		for _, n := range m.serverNames {
			ok := true
			for _, p := range prefixes {
				ok = ok && free(p, n)
			}
			if ok && !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	} else {
		kept := make([]string, 0, len(prefixes))
		for _, p := range prefixes {
			if free(p, "") && !slices.Contains(kept, p) {
				kept = append(kept, p)
			}
		}
		prefixes = kept
	}
	if len(names) == 0 || len(prefixes) == 0 {
		return false
	}
	for _, p := range prefixes {
		for _, n := range names {
			s.claimed[chainKey{m.port, p, n, m.sniffHTTP, m.tls, m.meshALPN}] = true
		}
	}
	fcm := &listenerv3.FilterChainMatch{}
	if m.port != 0 {
		fcm.DestinationPort = wrapperspb.UInt32(m.port)
	}
	for _, p := range prefixes {
		if r, ok := cidrRange(p); ok {
			fcm.PrefixRanges = append(fcm.PrefixRanges, r)
		}
	}
	if names[0] != "" {
		fcm.ServerNames = names
		s.needTLS = true
	}
	if m.sniffHTTP {
		fcm.ApplicationProtocols = slices.Clone(sniffedProtocols)
		s.needHTTP = true
	}
	if m.tls {
		fcm.TransportProtocol = "tls"
		s.needTLS = true
	}
	if m.meshALPN {
		fcm.ApplicationProtocols = slices.Clone(meshALPNs)
	}
	if name != "" {
		// Filter chain names must be unique within a listener.
		base := name
		for n := 2; s.names[name]; n++ {
			name = base + "#" + strconv.Itoa(n)
		}
		s.names[name] = true
	}
	chain := &listenerv3.FilterChain{Name: name, Filters: filters, TransportSocket: ts}
	if fcm.DestinationPort != nil || len(fcm.PrefixRanges) > 0 || len(fcm.ServerNames) > 0 || len(fcm.ApplicationProtocols) > 0 || fcm.TransportProtocol != "" {
		chain.FilterChainMatch = fcm
	}
	s.chains = append(s.chains, chain)
	return true
}

// hasCatchAll reports whether a chain already matches every connection.
func (s *chainSet) hasCatchAll() bool { return s.claimed[chainKey{}] }

// inspectors are the listener filters the chains' matches need.
func (s *chainSet) inspectors() []*listenerv3.ListenerFilter {
	var out []*listenerv3.ListenerFilter
	if s.needTLS {
		out = append(out, tlsInspectorFilter())
	}
	if s.needHTTP {
		out = append(out, httpInspectorFilter())
	}
	return out
}
