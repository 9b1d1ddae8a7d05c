package translate

import (
	"slices"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"loom.dev/loom/pkg/model"
)

// meshALPNs are the ALPN values Istio's clients offer with mesh mTLS; a
// PERMISSIVE port that may also carry the application's own TLS tells the
// two apart by them, as Istio does.
var meshALPNs = []string{"istio-peer-exchange", "istio", "istio-http/1.0", "istio-http/1.1", "istio-h2"}

// inboundMTLS is the PeerAuthentication outcome for a sidecar's inbound
// listener.
type inboundMTLS struct {
	workload    model.WorkloadMTLS
	trustDomain string
}

func (m inboundMTLS) mode(port uint32) model.MTLSMode { return m.workload.ForPort(port).Mode }

// addChains adds the filter chains of one inbound port (0: the
// passthrough of undeclared ports) as its mode says:
//   - DISABLE: the plaintext chain only;
//   - STRICT: only a chain for TLS connections, which terminates mutual
//     TLS: plaintext finds no chain and is closed;
//   - PERMISSIVE: the mutual TLS chain for TLS connections, the plaintext
//     chain for the rest. On ports that may carry the application's own
//     TLS (anything but declared HTTP, HTTP/2 and gRPC) the mutual TLS
//     chain also requires Istio's mesh ALPN, so that TLS goes through to
//     the application untouched.
func (m inboundMTLS) addChains(set *chainSet, match chainMatch, name string, filters []*listenerv3.Filter, protocol model.Protocol) {
	mode := m.mode(match.port)
	if mode != model.MTLSDisable {
		tlsMatch := match
		tlsMatch.tls = true
		tlsMatch.meshALPN = mode == model.MTLSPermissive && !protocol.IsHTTP()
		set.add(tlsMatch, name+"-mtls", filters, m.transportSocket(protocol.IsHTTP()))
	}
	if mode != model.MTLSStrict {
		set.add(match, name, filters, nil)
	}
}

// transportSocket terminates Istio mutual TLS: the workload certificate
// and the mesh root from the local agent over SDS, a client certificate
// required, and its URI SAN in the mesh's trust domain.
func (m inboundMTLS) transportSocket(http bool) *corev3.TransportSocket {
	common := &tlsv3.CommonTlsContext{
		TlsParams:                      &tlsv3.TlsParameters{TlsMinimumProtocolVersion: tlsv3.TlsParameters_TLSv1_2, TlsMaximumProtocolVersion: tlsv3.TlsParameters_TLSv1_3},
		TlsCertificateSdsSecretConfigs: []*tlsv3.SdsSecretConfig{agentSecret(workloadCertName)},
		ValidationContextType: &tlsv3.CommonTlsContext_CombinedValidationContext{CombinedValidationContext: &tlsv3.CommonTlsContext_CombinedCertificateValidationContext{
			DefaultValidationContext: &tlsv3.CertificateValidationContext{MatchTypedSubjectAltNames: []*tlsv3.SubjectAltNameMatcher{{
				SanType: tlsv3.SubjectAltNameMatcher_URI,
				Matcher: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: "spiffe://" + m.trustDomain + "/"}},
			}}},
			ValidationContextSdsSecretConfig: agentSecret(rootCertName),
		}},
	}
	if http {
		common.AlpnProtocols = []string{"h2", "http/1.1"}
	}
	return tlsTransportSocket(&tlsv3.DownstreamTlsContext{CommonTlsContext: common, RequireClientCertificate: wrapperspb.Bool(true)})
}

// portLevelOnly are the ports with a port-level mode that no inbound port
// serves: their passthrough traffic follows that mode, not the workload's.
func (m inboundMTLS) portLevelOnly(ports []inboundPort) []uint32 {
	var out []uint32
	for port := range m.workload.Ports {
		if port != 0 && port <= 65535 && port != virtualInboundPort &&
			!slices.ContainsFunc(ports, func(ip inboundPort) bool { return ip.port == port }) {
			out = append(out, port)
		}
	}
	slices.Sort(out)
	return out
}

// tlsInspector peeks at connections to the ports that take mutual TLS
// (it would stall server-first protocols elsewhere): every port but the
// DISABLE ones when undeclared ports take it too, else only those ports.
func (m inboundMTLS) tlsInspector(ports []inboundPort) *listenerv3.ListenerFilter {
	var secured, plain []uint32
	for _, ip := range ports {
		if m.mode(ip.port) == model.MTLSDisable {
			plain = append(plain, ip.port)
		} else {
			secured = append(secured, ip.port)
		}
	}
	for _, port := range m.portLevelOnly(ports) {
		if m.mode(port) == model.MTLSDisable {
			plain = append(plain, port)
		} else {
			secured = append(secured, port)
		}
	}
	f := tlsInspectorFilter()
	switch {
	case m.workload.Default.Mode != model.MTLSDisable:
		if len(plain) > 0 {
			f.FilterDisabled = destinationPorts(plain)
		}
	case len(secured) == 0:
		return nil
	default:
		f.FilterDisabled = notDestinationPorts(secured)
	}
	return f
}

// destinationPorts matches connections to any of the given ports.
func destinationPorts(ports []uint32) *listenerv3.ListenerFilterChainMatchPredicate {
	return notDestinationPorts(ports).GetNotMatch()
}
