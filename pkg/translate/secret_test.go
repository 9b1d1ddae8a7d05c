package translate

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	networking "istio.io/api/networking/v1alpha3"

	"loom.dev/loom/pkg/model"
)

func TestResolveServerTLS(t *testing.T) {
	withCA := fxCredential("with-ca", "istio-system", true)
	plain := fxCredential("plain", "istio-system", false)
	ecdsa := fxCredential("ecdsa", "istio-system", false)
	split := fxCredential("split", "istio-system", false)
	splitCA := &model.Credential{Name: "split-cacert", Namespace: "istio-system", CACert: []byte("split CA")}
	clientCA := &model.Credential{Name: "clients", Namespace: "istio-system", CACert: []byte("clients CA")}
	snap := model.Build(model.Input{Credentials: []*model.Credential{withCA, plain, ecdsa, split, splitCA, clientCA}})
	gw := fxGateway("gw", "istio-system", 0)
	mutual := networking.ServerTLSSettings_MUTUAL

	for _, tc := range []struct {
		name    string
		tls     *networking.ServerTLSSettings
		secrets map[string][]byte // name -> certificate chain or trusted CA
		caSDS   string
		problem string // field
	}{
		{name: "simple", tls: gwSimple("plain"), secrets: map[string][]byte{"kubernetes://plain": plain.Cert}},
		{name: "two certificates", tls: &networking.ServerTLSSettings{Mode: networking.ServerTLSSettings_SIMPLE, CredentialNames: []string{"plain", "ecdsa"}},
			secrets: map[string][]byte{"kubernetes://plain": plain.Cert, "kubernetes://ecdsa": ecdsa.Cert}},
		{name: "mutual, CA in the same Secret", tls: &networking.ServerTLSSettings{Mode: mutual, CredentialName: "with-ca"}, caSDS: "kubernetes://with-ca-cacert",
			secrets: map[string][]byte{"kubernetes://with-ca": withCA.Cert, "kubernetes://with-ca-cacert": withCA.CACert}},
		{name: "mutual, CA in <name>-cacert", tls: &networking.ServerTLSSettings{Mode: mutual, CredentialName: "split"}, caSDS: "kubernetes://split-cacert",
			secrets: map[string][]byte{"kubernetes://split": split.Cert, "kubernetes://split-cacert": splitCA.CACert}},
		{name: "mutual, caCertCredentialName", tls: &networking.ServerTLSSettings{Mode: mutual, CredentialName: "plain", CaCertCredentialName: "clients"}, caSDS: "kubernetes://clients-cacert",
			secrets: map[string][]byte{"kubernetes://plain": plain.Cert, "kubernetes://clients-cacert": clientCA.CACert}},
		{name: "files", tls: &networking.ServerTLSSettings{Mode: mutual, ServerCertificate: "/etc/cert.pem", PrivateKey: "/etc/key.pem", CaCertificates: "/etc/ca.pem"}, secrets: map[string][]byte{}},
		{name: "missing credential", tls: gwSimple("absent"), problem: "spec.servers[0].tls.credentialName"},
		{name: "missing second credential", tls: &networking.ServerTLSSettings{Mode: networking.ServerTLSSettings_SIMPLE, CredentialNames: []string{"plain", "absent"}}, problem: "spec.servers[0].tls.credentialNames[1]"},
		{name: "mutual without CA", tls: &networking.ServerTLSSettings{Mode: mutual, CredentialName: "plain"}, problem: "spec.servers[0].tls.credentialName"},
		{name: "no certificate at all", tls: &networking.ServerTLSSettings{Mode: networking.ServerTLSSettings_SIMPLE}, problem: "spec.servers[0].tls.credentialName"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, problems := resolveServerTLS(snap, fxGatewayProxy(), gw, "spec.servers[0].tls", tc.tls)
			if tc.problem != "" {
				if st != nil || len(problems) != 1 || problems[0].Field != tc.problem || problems[0].Kind != "Gateway" {
					t.Fatalf("want the server skipped with a problem at %s; got %v, %v", tc.problem, st, problems)
				}
				return
			}
			if st == nil || len(problems) != 0 {
				t.Fatalf("unexpected problems %v", problems)
			}
			got := map[string][]byte{}
			for _, s := range st.secrets {
				if c := s.GetTlsCertificate(); c != nil {
					got[s.GetName()] = c.GetCertificateChain().GetInlineBytes()
					if len(c.GetPrivateKey().GetInlineBytes()) == 0 {
						t.Errorf("%s has no key", s.GetName())
					}
				} else {
					got[s.GetName()] = s.GetValidationContext().GetTrustedCa().GetInlineBytes()
				}
			}
			if len(got) != len(tc.secrets) {
				t.Errorf("secrets %v, want %v", secretNames(got), secretNames(tc.secrets))
			}
			for name, want := range tc.secrets {
				if !bytes.Equal(got[name], want) {
					t.Errorf("secret %s = %q, want %q", name, got[name], want)
				}
			}
			if st.caSDS != tc.caSDS {
				t.Errorf("CA secret %q, want %q", st.caSDS, tc.caSDS)
			}
			validateAll(t, Resources{"ctx": {st.downstreamContext(true)}})
		})
	}
}

func secretNames(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestDownstreamContextMutualChecks(t *testing.T) {
	st := &serverTLS{
		settings: &networking.ServerTLSSettings{Mode: networking.ServerTLSSettings_OPTIONAL_MUTUAL, SubjectAltNames: []string{"spiffe://td/ns/a/sa/b", "client.example.com", "10.0.0.1"}},
		certSDS:  []string{"kubernetes://c"},
		caSDS:    "kubernetes://c-cacert",
	}
	ctx := st.downstreamContext(false)
	if ctx.GetRequireClientCertificate().GetValue() {
		t.Error("OPTIONAL_MUTUAL must not require a client certificate")
	}
	if len(ctx.GetCommonTlsContext().GetAlpnProtocols()) != 0 {
		t.Error("a TLS (not HTTPS) server offers no ALPN")
	}
	combined := ctx.GetCommonTlsContext().GetCombinedValidationContext()
	var types []tlsv3.SubjectAltNameMatcher_SanType
	for _, m := range combined.GetDefaultValidationContext().GetMatchTypedSubjectAltNames() {
		types = append(types, m.GetSanType())
	}
	want := []tlsv3.SubjectAltNameMatcher_SanType{tlsv3.SubjectAltNameMatcher_URI, tlsv3.SubjectAltNameMatcher_DNS, tlsv3.SubjectAltNameMatcher_IP_ADDRESS}
	if !slices.Equal(types, want) || combined.GetValidationContextSdsSecretConfig().GetName() != "kubernetes://c-cacert" {
		t.Errorf("validation %v", combined)
	}
}

// TestKeysOnlyToAuthorizedProxies: a gateway that did not authenticate (plaintext xDS), or
// whose ServiceAccount may not read the Secret, is sent no private key; the server is
// skipped and the problem says why.
func TestKeysOnlyToAuthorizedProxies(t *testing.T) {
	plain := fxCredential("plain", "istio-system", false)
	other := fxCredential("other", "istio-system", false)
	gw := fxGateway("gw", "istio-system", 0, fxServer(443, "HTTPS", "https", gwSimple("plain"), "a.example.com"),
		fxServer(8443, "HTTPS", "https-other", gwSimple("other"), "b.example.com"))
	snap := model.Build(model.Input{Credentials: []*model.Credential{plain, other}, Gateways: []*model.Gateway{gw}})
	unauthenticated := fxGatewayProxy()
	unauthenticated.KeyAccess = nil
	onlyOther := fxGatewayProxy()
	onlyOther.KeyAccess = func(secret string) error {
		if secret != "other" {
			return errors.New("ServiceAccount istio-system/ingress may not get Secret " + secret)
		}
		return nil
	}
	for _, tc := range []struct {
		name   string
		p      model.Proxy
		secret string
		reason string
	}{
		{"plaintext xDS", unauthenticated, "plain", "did not authenticate"},
		{"not allowed to read it", onlyOther, "plain", "may not get Secret plain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, problems := resolveServerTLS(snap, tc.p, gw, "spec.servers[0].tls", gwSimple(tc.secret))
			if st != nil || len(problems) != 1 || !strings.Contains(problems[0].Message, tc.reason) {
				t.Fatalf("want the server skipped with a problem saying %q; got %v, %v", tc.reason, st, problems)
			}
			res, _ := ForProxy(snap, tc.p)
			for _, r := range res[resourcev3.SecretType] {
				if name := r.(*tlsv3.Secret).Name; name == "kubernetes://"+tc.secret {
					t.Fatalf("the key of %s was sent", name)
				}
			}
		})
	}
	res, _ := ForProxy(snap, onlyOther)
	if !slices.ContainsFunc(res[resourcev3.SecretType], func(r types.Resource) bool { return r.(*tlsv3.Secret).Name == "kubernetes://other" }) {
		t.Fatal("the allowed Secret other was not sent")
	}
}
