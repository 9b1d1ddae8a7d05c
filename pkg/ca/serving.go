package ca

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// SignServing issues a TLS server certificate for pub and dnsNames (the control plane's own
// serving certificate, verified by agents with the trust bundle). It returns the DER chain
// leaf first, as tls.Certificate wants it; ttl is cut to the signing certificate's life.
func (s *Signer) SignServing(pub crypto.PublicKey, dnsNames []string, ttl time.Duration, now time.Time) ([][]byte, error) {
	if len(dnsNames) == 0 {
		return nil, errors.New("serving certificate: no DNS names")
	}
	if err := checkPublicKey(pub); err != nil {
		return nil, fmt.Errorf("serving certificate for %v: %w", dnsNames, err)
	}
	if ttl <= 0 || ttl > MaxWorkloadTTL {
		return nil, fmt.Errorf("serving certificate for %v: TTL %s is not within (0, %s]", dnsNames, ttl, MaxWorkloadTTL)
	}
	if problem := validityProblem(s.cert, now); problem != "" {
		return nil, fmt.Errorf("serving certificate for %v: signing certificate %s: %s", dnsNames, certName(s.cert), problem)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		DNSNames:              dnsNames,
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              clampNotAfter(now.Add(ttl), s.cert),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, s.cert, pub, s.key)
	if err != nil {
		return nil, fmt.Errorf("serving certificate for %v: %w", dnsNames, err)
	}
	out := [][]byte{der}
	for _, c := range s.chain {
		out = append(out, c.Raw)
	}
	return out, nil
}
