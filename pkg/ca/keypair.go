package ca

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// KeyPair is a certificate with its private key, both parsed and in PEM.
type KeyPair struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
	KeyPEM  []byte
}

// ParseKeyPair parses one PEM certificate and its PEM private key (PKCS#1,
// PKCS#8 or SEC1) and checks that the key belongs to the certificate.
func ParseKeyPair(certPEM, keyPEM []byte) (*KeyPair, error) {
	certs, err := parseCertsPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("certificate: holds %d certificates, want 1", len(certs))
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	if !samePublicKey(certs[0].PublicKey, key.Public()) {
		return nil, errors.New("key: does not match the certificate's public key")
	}
	return &KeyPair{Cert: certs[0], Key: key, CertPEM: encodeCertPEM(certs[0]), KeyPEM: keyPEM}, nil
}

// newKeyPair wraps a freshly signed certificate and its key.
func newKeyPair(der []byte, key crypto.Signer) (*KeyPair, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing the certificate just signed: %w", err)
	}
	keyPEM, err := encodeKeyPEM(key)
	if err != nil {
		return nil, err
	}
	return &KeyPair{Cert: cert, Key: key, CertPEM: encodeCertPEM(cert), KeyPEM: keyPEM}, nil
}

func encodeCertPEM(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

// parseCertsPEM parses every PEM block of data as a certificate. Text
// between blocks (as openssl writes "Bag Attributes") is ignored; a block
// of another type is an error, and so is data without any block.
func parseCertsPEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("not a certificate: PEM block %d is %q", n, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("not a certificate: PEM block %d: %v", n, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, errors.New("not PEM")
	}
	return certs, nil
}

// certName names a certificate in error messages and status.
func certName(cert *x509.Certificate) string {
	return fmt.Sprintf("%q (serial %x)", cert.Subject.String(), cert.SerialNumber)
}

// ParseCertificatesPEM parses one or more PEM certificates and nothing else.
func ParseCertificatesPEM(data []byte) ([]*x509.Certificate, error) { return parseCertsPEM(data) }
