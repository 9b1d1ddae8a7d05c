package validation

import (
	"slices"

	networking "istio.io/api/networking/v1alpha3"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// clientTLS applies Istio's rules to the TLS a sidecar originates.
func clientTLS(r *Result, at *field.Path, t *networking.ClientTLSSettings) {
	if t == nil {
		return
	}
	simple, mutual := t.GetMode() == networking.ClientTLSSettings_SIMPLE, t.GetMode() == networking.ClientTLSSettings_MUTUAL
	if t.GetInsecureSkipVerify().GetValue() {
		if simple && (t.GetCaCertificates() != "" || t.GetCredentialName() != "" || t.GetSubjectAltNames() != nil) {
			r.errorf(at.Child("insecureSkipVerify"), "cannot be combined with caCertificates, credentialName or subjectAltNames")
		}
		if mutual && (t.GetCaCertificates() != "" || t.GetSubjectAltNames() != nil) {
			r.errorf(at.Child("insecureSkipVerify"), "cannot be combined with caCertificates or subjectAltNames")
		}
	}
	if (simple || mutual) && t.GetCredentialName() != "" {
		if t.GetClientCertificate() != "" || t.GetCaCertificates() != "" || t.GetPrivateKey() != "" || t.GetCaCrl() != "" {
			r.errorf(at.Child("credentialName"), "cannot be combined with clientCertificate, privateKey, caCertificates or caCrl")
		}
		return
	}
	if mutual {
		if t.GetClientCertificate() == "" {
			r.errorf(at.Child("clientCertificate"), "required for MUTUAL TLS (or a credentialName)")
		}
		if t.GetPrivateKey() == "" {
			r.errorf(at.Child("privateKey"), "required for MUTUAL TLS (or a credentialName)")
		}
	}
}

// serverTLS applies Istio's rules to the TLS a gateway or sidecar terminates.
func serverTLS(r *Result, at *field.Path, t *networking.ServerTLSSettings) {
	if t == nil {
		return
	}
	mode := t.GetMode()
	if v := t.GetMinProtocolVersion(); (v == networking.ServerTLSSettings_TLSV1_0 || v == networking.ServerTLSSettings_TLSV1_1) && len(t.GetCipherSuites()) == 0 {
		r.warnf(at.Child("minProtocolVersion"), "TLS below 1.2 needs compatible cipherSuites: the default ones no longer include any")
	}
	cipherSuites(r, at.Child("cipherSuites"), t.GetCipherSuites())
	certSources := 0
	for _, set := range []bool{t.GetServerCertificate() != "" && t.GetPrivateKey() != "", t.GetCredentialName() != "",
		len(t.GetCredentialNames()) > 0, len(t.GetTlsCertificates()) > 0} {
		if set {
			certSources++
		}
	}
	anyCert := t.GetServerCertificate() != "" || t.GetPrivateKey() != "" || t.GetCaCertificates() != "" ||
		len(t.GetTlsCertificates()) > 0 || t.GetCredentialName() != "" || len(t.GetCredentialNames()) > 0
	switch mode {
	case networking.ServerTLSSettings_ISTIO_MUTUAL:
		if anyCert {
			r.errorf(at, "ISTIO_MUTUAL uses the mesh certificates: no serverCertificate, privateKey, caCertificates, tlsCertificates or credentialName(s)")
		}
		return
	case networking.ServerTLSSettings_PASSTHROUGH, networking.ServerTLSSettings_AUTO_PASSTHROUGH:
		if anyCert || t.GetCaCrl() != "" {
			r.warnf(at, "%v does not use certificates; they are ignored", mode)
		}
	}
	if certSources > 1 {
		r.errorf(at, "only one of credentialName, credentialNames, serverCertificate/privateKey and tlsCertificates may be set")
	}
	terminating := mode == networking.ServerTLSSettings_SIMPLE || mode == networking.ServerTLSSettings_MUTUAL || mode == networking.ServerTLSSettings_OPTIONAL_MUTUAL
	if terminating && (t.GetCredentialName() != "" || len(t.GetCredentialNames()) > 0) {
		return
	}
	if terminating {
		if mode != networking.ServerTLSSettings_SIMPLE && t.GetCaCertificates() == "" {
			r.errorf(at.Child("caCertificates"), "%v needs a client CA bundle (or a credentialName)", mode)
		}
		if len(t.GetTlsCertificates()) > 2 {
			r.warnf(at.Child("tlsCertificates"), "at most 2 server certificates are supported")
		}
		certs := t.GetTlsCertificates()
		if len(certs) == 0 {
			certs = []*networking.ServerTLSSettings_TLSCertificate{{ServerCertificate: t.GetServerCertificate(), PrivateKey: t.GetPrivateKey()}}
		}
		for _, c := range certs {
			if c.GetServerCertificate() == "" || c.GetPrivateKey() == "" {
				r.errorf(at, "%v needs a credentialName, or a serverCertificate and a privateKey", mode)
				break
			}
		}
	}
	if t.GetCaCrl() != "" {
		if t.GetCredentialName() != "" {
			r.errorf(at.Child("caCrl"), "not supported with credentialName: put the CRL in the credential")
		}
		if mode == networking.ServerTLSSettings_SIMPLE {
			r.errorf(at.Child("caCrl"), "not supported with SIMPLE TLS")
		}
	}
}

// validCipherSuites are the names Envoy (BoringSSL) accepts in cipherSuites.
var validCipherSuites = []string{"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
	"ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305", "ECDHE-ECDSA-AES128-SHA",
	"ECDHE-RSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA", "ECDHE-RSA-AES256-SHA", "AES128-GCM-SHA256", "AES256-GCM-SHA384",
	"AES128-SHA", "AES256-SHA", "DES-CBC3-SHA"}

// cipherSuites warns, as Istio does, about unknown and repeated suites, which are ignored.
func cipherSuites(r *Result, at *field.Path, suites []string) {
	seen := map[string]bool{}
	for i, cs := range suites {
		switch {
		case !slices.Contains(validCipherSuites, cs):
			r.warnf(at.Index(i), "unknown cipher suite %q is ignored", cs)
		case seen[cs]:
			r.warnf(at.Index(i), "duplicate cipher suite %q is ignored", cs)
		}
		seen[cs] = true
	}
}
