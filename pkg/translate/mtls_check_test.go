package translate

import (
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
)

// checkGRPCUpstreamTLS applies gRPC-Go's rules for a cluster's TLS
// (xdsresource securityConfigFromCluster, gRFC A29): the transport socket
// is named envoy.transport_sockets.tls and holds an UpstreamTlsContext
// whose certificates come from certificate provider instances only, with
// a root provider in the validation context.
func checkGRPCUpstreamTLS(t *testing.T, cluster string, ts *corev3.TransportSocket) {
	t.Helper()
	if ts.GetName() != tlsTransportSocketName {
		t.Errorf("cluster %s: gRPC NACKs transport socket %q", cluster, ts.GetName())
		return
	}
	var ctx tlsv3.UpstreamTlsContext
	if err := ts.GetTypedConfig().UnmarshalTo(&ctx); err != nil {
		t.Errorf("cluster %s: transport socket is not an UpstreamTlsContext: %v", cluster, err)
		return
	}
	checkGRPCCommonTLS(t, "cluster "+cluster, ctx.GetCommonTlsContext(), false)
}

func checkGRPCCommonTLS(t *testing.T, where string, common *tlsv3.CommonTlsContext, server bool) {
	t.Helper()
	if len(common.GetTlsCertificates()) > 0 || len(common.GetTlsCertificateSdsSecretConfigs()) > 0 {
		t.Errorf("%s: gRPC NACKs certificates from files or SDS", where)
	}
	id := common.GetTlsCertificateProviderInstance()
	if id.GetInstanceName() != certProviderInstance || id.GetCertificateName() != workloadCertName {
		t.Errorf("%s: identity provider %v, want instance %q certificate %q", where, id, certProviderInstance, workloadCertName)
	}
	vc := common.GetValidationContext()
	root := vc.GetCaCertificateProviderInstance()
	if root.GetInstanceName() != certProviderInstance || root.GetCertificateName() != rootCertName {
		t.Errorf("%s: root provider %v, want instance %q certificate %q", where, root, certProviderInstance, rootCertName)
	}
	if server && len(vc.GetMatchSubjectAltNames()) > 0 { //nolint:staticcheck // the field gRPC reads
		t.Errorf("%s: gRPC NACKs match_subject_alt_names on a server", where)
	}
	if len(vc.GetMatchTypedSubjectAltNames()) > 0 {
		t.Errorf("%s: gRPC ignores match_typed_subject_alt_names: the SAN check would be lost", where)
	}
}
