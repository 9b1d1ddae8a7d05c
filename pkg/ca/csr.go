package ca

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// MaxCSRSize bounds the PEM CSR a caller may send.
const MaxCSRSize = 64 << 10

// ParseCSR parses exactly one PEM "CERTIFICATE REQUEST", checks its
// signature, and accepts only RSA 2048-8192, ECDSA P-256/P-384 and Ed25519
// keys.
func ParseCSR(pemBytes []byte) (*x509.CertificateRequest, error) {
	if len(pemBytes) > MaxCSRSize {
		return nil, fmt.Errorf("CSR: %d bytes exceeds the limit of %d", len(pemBytes), MaxCSRSize)
	}
	block, rest := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("CSR: not PEM")
	}
	if block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST" {
		return nil, fmt.Errorf("CSR: PEM block is %q, want \"CERTIFICATE REQUEST\"", block.Type)
	}
	if extra, _ := pem.Decode(rest); extra != nil {
		return nil, errors.New("CSR: holds more than one PEM block")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("CSR: not a certificate request: %w", err)
	}
	// Key checks come before the signature check so that an oversized key
	// costs nothing to refuse.
	if err := checkPublicKey(csr.PublicKey); err != nil {
		return nil, fmt.Errorf("CSR: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("CSR: signature: %w", err)
	}
	return csr, nil
}

// CheckRequestedIdentity refuses a CSR that asks for anything but the
// caller's own identity: it may carry no URI SAN or exactly id's SPIFFE URI,
// and no DNS, email or IP SAN.
func CheckRequestedIdentity(csr *x509.CertificateRequest, id Identity) error {
	if csr == nil {
		return errors.New("CSR is missing")
	}
	switch {
	case len(csr.DNSNames) > 0:
		return fmt.Errorf("CSR asks for DNS names %q; the caller is %s and may only ask for that URI", csr.DNSNames, id)
	case len(csr.EmailAddresses) > 0:
		return fmt.Errorf("CSR asks for email addresses %q; the caller is %s and may only ask for that URI", csr.EmailAddresses, id)
	case len(csr.IPAddresses) > 0:
		return fmt.Errorf("CSR asks for IP addresses %v; the caller is %s and may only ask for that URI", csr.IPAddresses, id)
	case len(csr.URIs) > 1:
		return fmt.Errorf("CSR asks for %d URIs %v; the caller is %s and may only ask for that URI", len(csr.URIs), csr.URIs, id)
	case len(csr.URIs) == 1 && csr.URIs[0].String() != id.String():
		return fmt.Errorf("CSR asks for %q; the caller is %s", csr.URIs[0].String(), id)
	}
	return nil
}
