package translate

import (
	"strings"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	networking "istio.io/api/networking/v1alpha3"
)

// applyTLS originates TLS as the DestinationRule's tls settings ask, or,
// when no rule sets tls, mutual TLS to destinations that accept it (auto
// mTLS, see applyAutoMTLS). It returns false when the cluster must be left
// out because the requested protection cannot be configured: failing
// requests beat plaintext the user asked to encrypt.
func (b *clusterBuilder) applyTLS(c *clusterv3.Cluster, dst clusterDestination, pol clusterPolicy) bool {
	t, at := pol.tls, pol.tlsAt
	if t == nil {
		return b.applyAutoMTLS(c, dst)
	}
	switch t.GetMode() {
	case networking.ClientTLSSettings_DISABLE:
		return true
	case networking.ClientTLSSettings_ISTIO_MUTUAL:
		return b.applyIstioMutual(c, dst, t, at)
	}
	switch {
	case t.GetCredentialName() != "":
		b.report(at.at(".credentialName"), "certificates from a Secret are not supported for upstream TLS yet; cluster %s is left out", c.Name)
		return false
	case b.grpc():
		b.report(at.at(".mode"), "proxyless gRPC clients take TLS certificates from certificate providers, not files; cluster %s is left out", c.Name)
		return false
	case t.GetMode() == networking.ClientTLSSettings_MUTUAL && (t.GetClientCertificate() == "" || t.GetPrivateKey() == ""):
		b.report(at, "MUTUAL needs clientCertificate and privateKey; cluster %s is left out", c.Name)
		return false
	}
	common := &tlsv3.CommonTlsContext{}
	if !t.GetInsecureSkipVerify().GetValue() {
		vc := &tlsv3.CertificateValidationContext{}
		if ca := t.GetCaCertificates(); ca != "" {
			vc.TrustedCa = fileSource(ca)
		} else {
			vc.SystemRootCerts = &tlsv3.CertificateValidationContext_SystemRootCerts{}
		}
		if crl := t.GetCaCrl(); crl != "" {
			vc.Crl = fileSource(crl)
		}
		for _, san := range t.GetSubjectAltNames() {
			typ := tlsv3.SubjectAltNameMatcher_DNS
			if strings.Contains(san, "://") {
				typ = tlsv3.SubjectAltNameMatcher_URI
			}
			vc.MatchTypedSubjectAltNames = append(vc.MatchTypedSubjectAltNames, &tlsv3.SubjectAltNameMatcher{
				SanType: typ,
				Matcher: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: san}},
			})
		}
		common.ValidationContextType = &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: vc}
	}
	if t.GetMode() == networking.ClientTLSSettings_MUTUAL {
		common.TlsCertificates = []*tlsv3.TlsCertificate{{
			CertificateChain: fileSource(t.GetClientCertificate()),
			PrivateKey:       fileSource(t.GetPrivateKey()),
		}}
	}
	sni := t.GetSni()
	if sni == "" && !strings.Contains(dst.svc.Hostname, "*") {
		sni = dst.svc.Hostname
	}
	ctx := &tlsv3.UpstreamTlsContext{CommonTlsContext: common, Sni: sni}
	if err := checkEnvoy(ctx); err != nil {
		b.report(at, "%v; cluster %s is left out", err, c.Name)
		return false
	}
	c.TransportSocket = tlsTransportSocket(ctx)
	return true
}

func fileSource(path string) *corev3.DataSource {
	return &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: path}}
}
