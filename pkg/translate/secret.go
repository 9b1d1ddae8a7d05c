package translate

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"

	"loom.dev/loom/pkg/model"
)

// SDS names follow Istio's: "kubernetes://<secret>" for a certificate and
// key, "kubernetes://<secret>-cacert" for the CA that verifies clients.
const (
	sdsKubernetesPrefix = "kubernetes://"
	sdsCACertSuffix     = "-cacert"
)

func certificateSecretName(credential string) string { return sdsKubernetesPrefix + credential }

func caSecretName(credential string) string {
	return sdsKubernetesPrefix + credential + sdsCACertSuffix
}

// certificateSecret serves a credential's certificate chain and key.
func certificateSecret(name string, c *model.Credential) *tlsv3.Secret {
	return &tlsv3.Secret{Name: name, Type: &tlsv3.Secret_TlsCertificate{TlsCertificate: &tlsv3.TlsCertificate{
		CertificateChain: inlineBytes(c.Cert),
		PrivateKey:       inlineBytes(c.Key),
	}}}
}

// caSecret serves the CA bundle that client certificates must chain to.
func caSecret(name string, ca []byte) *tlsv3.Secret {
	return &tlsv3.Secret{Name: name, Type: &tlsv3.Secret_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
		TrustedCa: inlineBytes(ca),
	}}}
}

func inlineBytes(b []byte) *corev3.DataSource {
	return &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{InlineBytes: b}}
}

func fileData(path string) *corev3.DataSource {
	return &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: path}}
}
