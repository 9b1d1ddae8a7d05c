package translate

import (
	"slices"
	"strings"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"loom.dev/loom/pkg/model"
)

// Names of the workload certificate and the mesh root, as Istio's agent
// serves them: over SDS to Envoy (cluster sds-grpc), and as the
// certificate names of the "default" certificate provider instance in a
// proxyless gRPC bootstrap (written by `loom agent`).
const (
	workloadCertName     = "default"
	rootCertName         = "ROOTCA"
	certProviderInstance = "default"
	// SDSClusterName is the static cluster, in every Envoy's bootstrap,
	// that reaches the local agent's SDS server over a Unix socket.
	SDSClusterName = "sds-grpc"
)

// spiffeSANs are the identities a service's endpoints present: the SPIFFE
// ids of their service accounts, sorted and without repeats, as Istio
// matches them for ISTIO_MUTUAL. An account that already is a URI (a
// ServiceEntry endpoint's) is taken as it is.
func spiffeSANs(trustDomain string, svc *model.Service) []string {
	var out []string
	for _, ep := range svc.Endpoints {
		sa := ep.ServiceAccount
		switch {
		case sa == "":
			continue
		case strings.Contains(sa, "://"):
			out = append(out, sa)
		default:
			out = append(out, model.SpiffeID(trustDomain, svc.Namespace, sa))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func exactMatchers(values []string) []*matcherv3.StringMatcher {
	out := make([]*matcherv3.StringMatcher, 0, len(values))
	for _, v := range values {
		out = append(out, &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: v}})
	}
	return out
}

// destinationMTLSMode is what Istio infers a destination accepts, for auto
// mTLS: the mesh- or namespace-wide mode of the service's namespace
// (workload policies are not consulted, as in Istio's
// BestEffortInferServiceMTLSMode), DISABLE for a passthrough service with
// an endpoint that runs no mesh proxy, and "" (unknown) for a mesh-external one.
func destinationMTLSMode(snap *model.Snapshot, svc *model.Service, passthrough bool) model.MTLSMode {
	if svc.MeshExternal {
		return ""
	}
	if passthrough {
		if len(svc.Endpoints) == 0 {
			return model.MTLSDisable
		}
		for _, ep := range svc.Endpoints {
			if !runsMeshProxy(ep) {
				return model.MTLSDisable
			}
		}
	}
	return snap.MTLSFor(svc.Namespace, nil).Default.Mode
}

// runsMeshProxy reports whether an endpoint accepts Istio mTLS: its pod
// carries security.istio.io/tlsMode=istio.
func runsMeshProxy(ep *model.Endpoint) bool {
	return ep.Labels[model.TLSModeLabel] == model.TLSModeIstio
}

// grpcCommonTLS is a proxyless gRPC TLS context with Istio's certificate
// provider instances: identity "default" and root "ROOTCA" of the instance
// "default" (gRFC A29's fields, which gRPC-Go reads since 1.66). sans, when
// given, are the exact URI SANs the peer must present; gRPC servers cannot
// check them (gRPC NACKs match_subject_alt_names on a server).
func grpcCommonTLS(sans []string) *tlsv3.CommonTlsContext {
	vc := &tlsv3.CertificateValidationContext{
		CaCertificateProviderInstance: &tlsv3.CertificateProviderPluginInstance{InstanceName: certProviderInstance, CertificateName: rootCertName},
	}
	if len(sans) > 0 {
		//nolint:staticcheck // gRPC reads only match_subject_alt_names, not the typed matchers.
		vc.MatchSubjectAltNames = exactMatchers(sans)
	}
	return &tlsv3.CommonTlsContext{
		TlsCertificateProviderInstance: &tlsv3.CertificateProviderPluginInstance{InstanceName: certProviderInstance, CertificateName: workloadCertName},
		ValidationContextType:          &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: vc},
	}
}

// IstioSDSSocket is where Istio's agent serves SDS, relative to the proxy's
// working directory; Envoy bootstraps written for Istio's proxies use it.
const IstioSDSSocket = "./var/run/secrets/workload-spiffe-uds/socket"

// SDSCluster is the static cluster an Envoy bootstrap must carry for the
// mesh TLS Loom configures: secrets "default" (the workload certificate)
// and "ROOTCA" (the mesh root) are fetched from it, served by the local
// agent over the Unix socket at socketPath (Istio's: IstioSDSSocket).
// Without it Envoy rejects every listener and cluster that refers to it.
func SDSCluster(socketPath string) *clusterv3.Cluster {
	return &clusterv3.Cluster{
		Name:                          SDSClusterName,
		ClusterDiscoveryType:          &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
		ConnectTimeout:                durationpb.New(time.Second),
		TypedExtensionProtocolOptions: map[string]*anypb.Any{httpProtocolOptionsKey: anyOf(explicitHTTP2())},
		LoadAssignment: &endpointv3.ClusterLoadAssignment{
			ClusterName: SDSClusterName,
			Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{{
				HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
					Address: &corev3.Address{Address: &corev3.Address_Pipe{Pipe: &corev3.Pipe{Path: socketPath}}},
				}},
			}}}},
		},
	}
}
