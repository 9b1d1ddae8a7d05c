package agent

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
)

// KeyAlgorithm names the kind of workload key.
type KeyAlgorithm string

// Supported key algorithms; RSA2048 is Istio's default.
const (
	RSA2048   KeyAlgorithm = "RSA2048"
	ECDSAP256 KeyAlgorithm = "ECDSA_P256"
)

func (a KeyAlgorithm) check() error {
	switch a {
	case RSA2048, ECDSAP256:
		return nil
	}
	return fmt.Errorf("--key-algorithm %q: want %s or %s", string(a), RSA2048, ECDSAP256)
}

// generate returns a new private key of kind a.
func (a KeyAlgorithm) generate() (crypto.Signer, error) {
	switch a {
	case RSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	return nil, a.check()
}

// SPIFFEID is the identity of a Kubernetes service account in the mesh, as
// Istio names it.
func SPIFFEID(trustDomain, namespace, serviceAccount string) *url.URL {
	return &url.URL{Scheme: "spiffe", Host: trustDomain, Path: "/ns/" + namespace + "/sa/" + serviceAccount}
}

// newCSR returns a PEM certificate request signed by key whose only subject
// alternative name is the URI id.
func newCSR(key crypto.Signer, id *url.URL) ([]byte, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{URIs: []*url.URL{id}}, key)
	if err != nil {
		return nil, fmt.Errorf("certificate request for %s: %w", id, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// keyPEM encodes key as PKCS #8, which Envoy, gRPC and OpenSSL all read.
func keyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode workload key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
