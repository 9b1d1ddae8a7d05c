package translate

import (
	"slices"
	"strconv"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	rawbufferv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/raw_buffer/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	networking "istio.io/api/networking/v1alpha3"

	"loom.dev/loom/pkg/model"
)

// clusterDestination is what one outbound cluster reaches.
type clusterDestination struct {
	svc    *model.Service
	port   model.Port
	subset string
	// labels select the subset's endpoints (nil: all).
	labels map[string]string
	// passthrough: the cluster forwards to the original destination, or
	// the service is headless.
	passthrough bool
}

// istioSNI is the SNI Istio sends with ISTIO_MUTUAL:
// "outbound_.<port>_.<subset>_.<host>".
func (d clusterDestination) istioSNI() string {
	return string(Outbound) + "_." + strconv.FormatUint(uint64(d.port.Number), 10) + "_." + d.subset + "_." + d.svc.Hostname
}

func (d clusterDestination) http2() bool {
	return d.port.Protocol == model.ProtocolHTTP2 || d.port.Protocol == model.ProtocolGRPC
}

// Transport socket match of auto mTLS: endpoints whose metadata carries
// tlsMode=istio (see endpointMetadata) get mutual TLS, the rest plaintext.
const (
	transportSocketMatchKey = "envoy.transport_socket_match"
	tlsModeMetadataKey      = "tlsMode"
)

// applyIstioMutual originates Istio mutual TLS with the workload
// certificate: the server must present one of the rule's subjectAltNames,
// or else the SPIFFE id of one of the service's endpoints.
func (b *clusterBuilder) applyIstioMutual(c *clusterv3.Cluster, dst clusterDestination, t *networking.ClientTLSSettings, at origin) bool {
	sans := t.GetSubjectAltNames()
	if len(sans) == 0 {
		sans = spiffeSANs(b.snap.TrustDomain(), dst.svc)
	}
	if b.grpc() {
		if t.GetSni() != "" {
			b.report(at.at(".sni"), "ignored for proxyless gRPC clients, which take no SNI from xDS (as in Istio); the server's identity is still checked")
		}
		c.TransportSocket = grpcUpstreamTransportSocket(sans)
		return true
	}
	sni := t.GetSni()
	if sni == "" {
		sni = dst.istioSNI()
	}
	ctx := envoyIstioMutual(sans, sni, dst.http2())
	if err := checkEnvoy(ctx); err != nil {
		b.report(at, "%v; cluster %s is left out", err, c.Name)
		return false
	}
	c.TransportSocket = tlsTransportSocket(ctx)
	return true
}

// applyAutoMTLS is Istio's auto mTLS: with no TLS in any DestinationRule,
// a client sends Istio mutual TLS to endpoints that run a mesh proxy
// (labelled security.istio.io/tlsMode=istio), unless the destination is
// mesh-external or its namespace's (or the mesh's) PeerAuthentication mode
// is DISABLE. Envoy picks per endpoint with a transport socket match;
// headless (ORIGINAL_DST) clusters get mutual TLS only when every endpoint
// runs a proxy, as in Istio. A proxyless gRPC client has one transport
// socket per cluster: mutual TLS when every endpoint of the cluster runs a
// proxy, plaintext when none does, and plaintext with a problem when they
// are mixed. Envoy clusters of a service none of whose endpoints runs a
// proxy get no transport socket match at all (same traffic, and no
// reference to the SDS cluster).
func (b *clusterBuilder) applyAutoMTLS(c *clusterv3.Cluster, dst clusterDestination) bool {
	mode := destinationMTLSMode(b.snap, dst.svc, dst.passthrough)
	if mode == "" || mode == model.MTLSDisable {
		return true
	}
	sans := spiffeSANs(b.snap.TrustDomain(), dst.svc)
	if b.grpc() {
		var meshed, plain int
		for _, ep := range dst.svc.Endpoints {
			if !labelsInclude(ep.Labels, dst.labels) {
				continue
			}
			if runsMeshProxy(ep) {
				meshed++
			} else {
				plain++
			}
		}
		switch {
		case meshed > 0 && plain == 0:
			c.TransportSocket = grpcUpstreamTransportSocket(sans)
		case meshed > 0:
			b.report(serviceOrigin(dst.svc), "%d of %d endpoints run a mesh proxy (label %s=%s): a proxyless gRPC client cannot choose TLS per endpoint, so cluster %s sends plaintext to all of them; set a DestinationRule tls mode to decide",
				meshed, meshed+plain, model.TLSModeLabel, model.TLSModeIstio, c.Name)
		}
		return true
	}
	if !slices.ContainsFunc(dst.svc.Endpoints, runsMeshProxy) {
		// Istio adds the matches anyway; every endpoint would take the
		// plaintext one. Leaving them out keeps Envoys whose bootstrap has
		// no SDS cluster yet (no agent) working where no pod is meshed.
		return true
	}
	ctx := envoyIstioMutual(sans, dst.istioSNI(), dst.http2())
	if err := checkEnvoy(ctx); err != nil {
		b.report(serviceOrigin(dst.svc), "auto mTLS: %v; cluster %s sends plaintext", err, c.Name)
		return true
	}
	if c.GetType() == clusterv3.Cluster_ORIGINAL_DST {
		c.TransportSocket = tlsTransportSocket(ctx)
		return true
	}
	c.TransportSocketMatches = []*clusterv3.Cluster_TransportSocketMatch{
		{
			Name:            "tlsMode-" + model.TLSModeIstio,
			Match:           &structpb.Struct{Fields: map[string]*structpb.Value{tlsModeMetadataKey: structpb.NewStringValue(model.TLSModeIstio)}},
			TransportSocket: tlsTransportSocket(ctx),
		},
		{
			Name:            "tlsMode-disabled",
			Match:           &structpb.Struct{},
			TransportSocket: rawBufferTransportSocket(),
		},
	}
	return true
}

// endpointMetadata marks an endpoint that runs a mesh proxy for the auto
// mTLS transport socket match; nil for the others.
func endpointMetadata(ep *model.Endpoint) *corev3.Metadata {
	if !runsMeshProxy(ep) {
		return nil
	}
	return &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
		transportSocketMatchKey: {Fields: map[string]*structpb.Value{tlsModeMetadataKey: structpb.NewStringValue(model.TLSModeIstio)}},
	}}
}

func rawBufferTransportSocket() *corev3.TransportSocket {
	return &corev3.TransportSocket{Name: "envoy.transport_sockets.raw_buffer", ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: anyOf(&rawbufferv3.RawBuffer{})}}
}

// envoyIstioMutual is Istio's upstream context for ISTIO_MUTUAL: the
// workload certificate and the mesh root from the local agent over SDS,
// the server's SAN one of sans, ALPN "istio" (and h2 for HTTP/2 clusters)
// so that Istio servers in PERMISSIVE mode know it is mesh traffic.
func envoyIstioMutual(sans []string, sni string, http2 bool) *tlsv3.UpstreamTlsContext {
	alpn := []string{"istio"}
	if http2 {
		alpn = []string{"istio", "h2"}
	}
	return &tlsv3.UpstreamTlsContext{
		Sni: sni,
		CommonTlsContext: &tlsv3.CommonTlsContext{
			AlpnProtocols:                  alpn,
			TlsParams:                      &tlsv3.TlsParameters{TlsMinimumProtocolVersion: tlsv3.TlsParameters_TLSv1_2, TlsMaximumProtocolVersion: tlsv3.TlsParameters_TLSv1_3},
			TlsCertificateSdsSecretConfigs: []*tlsv3.SdsSecretConfig{agentSecret(workloadCertName)},
			ValidationContextType: &tlsv3.CommonTlsContext_CombinedValidationContext{CombinedValidationContext: &tlsv3.CommonTlsContext_CombinedCertificateValidationContext{
				DefaultValidationContext:         &tlsv3.CertificateValidationContext{MatchTypedSubjectAltNames: uriSANMatchers(exactMatchers(sans))},
				ValidationContextSdsSecretConfig: agentSecret(rootCertName),
			}},
		},
	}
}

func uriSANMatchers(ms []*matcherv3.StringMatcher) []*tlsv3.SubjectAltNameMatcher {
	out := make([]*tlsv3.SubjectAltNameMatcher, 0, len(ms))
	for _, m := range ms {
		out = append(out, &tlsv3.SubjectAltNameMatcher{SanType: tlsv3.SubjectAltNameMatcher_URI, Matcher: m})
	}
	return out
}

// agentSecret fetches a secret from the local agent (static cluster
// SDSClusterName in the Envoy bootstrap), waiting for it without a timeout
// as Istio does: a listener or cluster without its certificate stays warming.
func agentSecret(name string) *tlsv3.SdsSecretConfig {
	return &tlsv3.SdsSecretConfig{
		Name: name,
		SdsConfig: &corev3.ConfigSource{
			ConfigSourceSpecifier: &corev3.ConfigSource_ApiConfigSource{ApiConfigSource: &corev3.ApiConfigSource{
				ApiType:                   corev3.ApiConfigSource_GRPC,
				SetNodeOnFirstMessageOnly: true,
				TransportApiVersion:       corev3.ApiVersion_V3,
				GrpcServices: []*corev3.GrpcService{{TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{
					EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: SDSClusterName},
				}}},
			}},
			ResourceApiVersion:  corev3.ApiVersion_V3,
			InitialFetchTimeout: durationpb.New(0),
		},
	}
}
