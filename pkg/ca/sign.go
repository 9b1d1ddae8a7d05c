package ca

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"time"
)

const (
	// DefaultWorkloadTTL is the lifetime of a workload certificate when the
	// request names none (Istio's DEFAULT_WORKLOAD_CERT_TTL).
	DefaultWorkloadTTL = 24 * time.Hour
	// MaxWorkloadTTL is the longest lifetime a workload may ask for (Istio's
	// MAX_WORKLOAD_CERT_TTL).
	MaxWorkloadTTL = 90 * 24 * time.Hour
)

// Sign issues a workload certificate for the CSR's public key carrying only
// id as its URI SAN; nothing else the CSR asks for is copied. Callers check
// the request with CheckRequestedIdentity first. ttl 0 means
// DefaultWorkloadTTL; the lifetime is cut to the signing certificate's.
// The result is the PEM chain leaf first, as Istio's
// IstioCertificateResponse.cert_chain: then the intermediates, and last the
// whole trust bundle (every root, more than one while a root is rotated),
// as istiod answers with its root-cert.pem.
func (s *Signer) Sign(csr *x509.CertificateRequest, id Identity, ttl time.Duration, now time.Time) ([]string, error) {
	if csr == nil {
		return nil, errors.New("sign: CSR is missing")
	}
	if err := id.Validate(); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	if err := checkPublicKey(csr.PublicKey); err != nil {
		return nil, fmt.Errorf("sign %s: CSR: %w", id, err)
	}
	switch {
	case ttl < 0:
		return nil, fmt.Errorf("sign %s: requested TTL %s is negative", id, ttl)
	case ttl > MaxWorkloadTTL:
		return nil, fmt.Errorf("sign %s: requested TTL %s exceeds the maximum %s", id, ttl, MaxWorkloadTTL)
	case ttl == 0:
		ttl = DefaultWorkloadTTL
	}
	if problem := validityProblem(s.cert, now); problem != "" {
		return nil, fmt.Errorf("sign %s: signing certificate %s: %s", id, certName(s.cert), problem)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", id, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		// An empty subject makes crypto/x509 mark the SAN extension
		// critical (RFC 5280 4.2.1.6), as Istio's workload certificates are.
		URIs:                  []*url.URL{id.URL()},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              clampNotAfter(now.Add(ttl), s.cert),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, s.cert, csr.PublicKey, s.key)
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", id, err)
	}
	out := make([]string, 0, 1+len(s.chainPEM))
	out = append(out, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	for _, p := range s.chainPEM[:len(s.chainPEM)-1] {
		out = append(out, string(p))
	}
	return append(out, string(bytes.Join(s.rootsPEM, nil))), nil
}
