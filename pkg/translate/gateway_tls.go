package translate

import (
	"fmt"
	"net/netip"
	"strings"

	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
	networking "istio.io/api/networking/v1alpha3"

	"loom.dev/loom/pkg/model"
)

// serverTLS is the TLS material of a server that terminates TLS.
type serverTLS struct {
	settings *networking.ServerTLSSettings
	certSDS  []string // SDS names of the certificates and keys
	caSDS    string   // SDS name of the client CA, for MUTUAL
	secrets  []*tlsv3.Secret
	// istioMutual: the workload certificate and mesh root come from the
	// gateway's local agent (ISTIO_MUTUAL); client identities must be in
	// trustDomain unless the server lists subjectAltNames.
	istioMutual bool
	trustDomain string
}

func (st *serverTLS) mutual() bool {
	m := st.settings.GetMode()
	return m == networking.ServerTLSSettings_MUTUAL || m == networking.ServerTLSSettings_OPTIONAL_MUTUAL
}

// istioMutualContext terminates Istio mutual TLS on a gateway server, as
// Istio does: the gateway's workload certificate and the mesh root over
// SDS from its agent, a client certificate required.
func (st *serverTLS) istioMutualContext(http bool) *tlsv3.DownstreamTlsContext {
	sans := sanMatchers(st.settings.GetSubjectAltNames())
	if len(sans) == 0 {
		sans = []*tlsv3.SubjectAltNameMatcher{{SanType: tlsv3.SubjectAltNameMatcher_URI,
			Matcher: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: "spiffe://" + st.trustDomain + "/"}}}}
	}
	common := &tlsv3.CommonTlsContext{
		TlsCertificateSdsSecretConfigs: []*tlsv3.SdsSecretConfig{agentSecret(workloadCertName)},
		ValidationContextType: &tlsv3.CommonTlsContext_CombinedValidationContext{CombinedValidationContext: &tlsv3.CommonTlsContext_CombinedCertificateValidationContext{
			DefaultValidationContext:         &tlsv3.CertificateValidationContext{MatchTypedSubjectAltNames: sans},
			ValidationContextSdsSecretConfig: agentSecret(rootCertName),
		}},
	}
	if http {
		common.AlpnProtocols = []string{"h2", "http/1.1"}
	}
	return &tlsv3.DownstreamTlsContext{CommonTlsContext: common, RequireClientCertificate: wrapperspb.Bool(true)}
}

// resolveServerTLS finds the credentials a server names. As in Istio, a
// credentialName refers to a Secret in the gateway workload's namespace;
// files (serverCertificate, privateKey, caCertificates) are read by Envoy
// itself. A missing credential skips the server.
func resolveServerTLS(snap *model.Snapshot, p model.Proxy, gw *model.Gateway, field string, tls *networking.ServerTLSSettings) (*serverTLS, []model.Problem) {
	st := &serverTLS{settings: tls}
	fail := func(f, format string, args ...any) (*serverTLS, []model.Problem) {
		return nil, []model.Problem{gwProblem(gw, f, format+"; this server is skipped", args...)}
	}
	type named struct{ field, name string }
	var creds []named
	if tls.GetCredentialName() != "" {
		creds = append(creds, named{field + ".credentialName", tls.GetCredentialName()})
	}
	for j, n := range tls.GetCredentialNames() {
		creds = append(creds, named{fmt.Sprintf("%s.credentialNames[%d]", field, j), n})
	}
	if len(creds) == 0 && (tls.GetServerCertificate() == "" || tls.GetPrivateKey() == "") {
		return fail(field+".credentialName", "mode %s needs a credentialName, or serverCertificate and privateKey", tls.GetMode())
	}
	var first *model.Credential
	for _, c := range creds {
		cred := snap.CredentialFor(p.Namespace, c.name)
		switch {
		case cred == nil:
			return fail(c.field, "Secret %q not found in namespace %q (the gateway workload's)", c.name, p.Namespace)
		case len(cred.Cert) == 0 || len(cred.Key) == 0:
			return fail(c.field, "Secret %s/%s has no certificate (tls.crt) or key (tls.key)", p.Namespace, c.name)
		}
		if err := p.MayReceiveKey(c.name); err != nil {
			return fail(c.field, "the key of Secret %s/%s is not sent to proxy %s: %v", p.Namespace, c.name, p.ID, err)
		}
		if first == nil {
			first = cred
		}
		name := certificateSecretName(c.name)
		st.certSDS = append(st.certSDS, name)
		st.secrets = append(st.secrets, certificateSecret(name, cred))
	}
	if !st.mutual() {
		return st, nil
	}
	var caName string
	var ca []byte
	switch {
	case tls.GetCaCertCredentialName() != "":
		caName = tls.GetCaCertCredentialName()
		if c := snap.CredentialFor(p.Namespace, caName); c != nil {
			ca = c.CACert
		}
		if len(ca) == 0 {
			return fail(field+".caCertCredentialName", "Secret %s/%s has no CA certificate (ca.crt)", p.Namespace, caName)
		}
	case first != nil:
		caName = creds[0].name
		ca = first.CACert
		if len(ca) == 0 {
			if c := snap.CredentialFor(p.Namespace, caName+sdsCACertSuffix); c != nil {
				ca = c.CACert
			}
		}
		if len(ca) == 0 {
			return fail(creds[0].field, "mode %s needs a CA certificate: ca.crt in Secret %s/%s, or a Secret %s%s", tls.GetMode(), p.Namespace, caName, caName, sdsCACertSuffix)
		}
	case tls.GetCaCertificates() == "":
		return fail(field+".caCertificates", "mode %s needs a CA certificate", tls.GetMode())
	}
	if ca != nil {
		st.caSDS = caSecretName(caName)
		st.secrets = append(st.secrets, caSecret(st.caSDS, ca))
	}
	return st, nil
}

// downstreamContext terminates TLS with the server's settings; http adds
// the ALPN an HTTPS server offers.
func (st *serverTLS) downstreamContext(http bool) *tlsv3.DownstreamTlsContext {
	if st.istioMutual {
		return st.istioMutualContext(http)
	}
	t := st.settings
	common := &tlsv3.CommonTlsContext{}
	for _, name := range st.certSDS {
		common.TlsCertificateSdsSecretConfigs = append(common.TlsCertificateSdsSecretConfigs, sdsSecret(name))
	}
	if len(st.certSDS) == 0 {
		common.TlsCertificates = []*tlsv3.TlsCertificate{{CertificateChain: fileData(t.GetServerCertificate()), PrivateKey: fileData(t.GetPrivateKey())}}
	}
	if http {
		common.AlpnProtocols = []string{"h2", "http/1.1"}
	}
	if t.GetMinProtocolVersion() != 0 || t.GetMaxProtocolVersion() != 0 || len(t.GetCipherSuites()) > 0 {
		// Istio's TLSProtocol enum has the same numbering as Envoy's.
		common.TlsParams = &tlsv3.TlsParameters{
			TlsMinimumProtocolVersion: tlsv3.TlsParameters_TlsProtocol(t.GetMinProtocolVersion()),
			TlsMaximumProtocolVersion: tlsv3.TlsParameters_TlsProtocol(t.GetMaxProtocolVersion()),
			CipherSuites:              t.GetCipherSuites(),
		}
	}
	ctx := &tlsv3.DownstreamTlsContext{CommonTlsContext: common}
	if !st.mutual() {
		return ctx
	}
	ctx.RequireClientCertificate = wrapperspb.Bool(t.GetMode() == networking.ServerTLSSettings_MUTUAL)
	checks := &tlsv3.CertificateValidationContext{
		MatchTypedSubjectAltNames: sanMatchers(t.GetSubjectAltNames()),
		VerifyCertificateSpki:     t.GetVerifyCertificateSpki(),
		VerifyCertificateHash:     t.GetVerifyCertificateHash(),
	}
	if t.GetCaCrl() != "" {
		checks.Crl = fileData(t.GetCaCrl())
	}
	switch {
	case st.caSDS == "":
		checks.TrustedCa = fileData(t.GetCaCertificates())
		common.ValidationContextType = &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: checks}
	case proto.Size(checks) == 0:
		common.ValidationContextType = &tlsv3.CommonTlsContext_ValidationContextSdsSecretConfig{ValidationContextSdsSecretConfig: sdsSecret(st.caSDS)}
	default:
		common.ValidationContextType = &tlsv3.CommonTlsContext_CombinedValidationContext{CombinedValidationContext: &tlsv3.CommonTlsContext_CombinedCertificateValidationContext{
			DefaultValidationContext:         checks,
			ValidationContextSdsSecretConfig: sdsSecret(st.caSDS),
		}}
	}
	return ctx
}

// sanMatchers checks client certificates' subject alternative names: URIs
// (SPIFFE IDs), IP addresses, or else DNS names.
func sanMatchers(sans []string) []*tlsv3.SubjectAltNameMatcher {
	var out []*tlsv3.SubjectAltNameMatcher
	for _, san := range sans {
		typ := tlsv3.SubjectAltNameMatcher_DNS
		if strings.Contains(san, "://") {
			typ = tlsv3.SubjectAltNameMatcher_URI
		} else if _, err := netip.ParseAddr(san); err == nil {
			typ = tlsv3.SubjectAltNameMatcher_IP_ADDRESS
		}
		out = append(out, &tlsv3.SubjectAltNameMatcher{SanType: typ, Matcher: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: san}}})
	}
	return out
}
