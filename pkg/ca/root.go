package ca

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"time"
)

const (
	// DefaultRootTTL is the lifetime of a root CA when none is asked for.
	DefaultRootTTL = 10 * 365 * 24 * time.Hour
	// DefaultIntermediateTTL is the lifetime of an intermediate CA when none
	// is asked for.
	DefaultIntermediateTTL = 365 * 24 * time.Hour
	// clockSkew back-dates NotBefore so peers with slow clocks accept a
	// certificate at once.
	clockSkew = time.Minute
)

// NewRoot creates a self-signed root CA for the trust domain.
func NewRoot(trustDomain string, alg KeyAlgorithm, ttl time.Duration, now time.Time) (*KeyPair, error) {
	if err := validateTrustDomain(trustDomain); err != nil {
		return nil, fmt.Errorf("new root CA: %w", err)
	}
	ttl, err := defaultTTL(ttl, DefaultRootTTL)
	if err != nil {
		return nil, fmt.Errorf("new root CA: %w", err)
	}
	key, err := GenerateKey(alg)
	if err != nil {
		return nil, fmt.Errorf("new root CA: %w", err)
	}
	tmpl, err := caTemplate(trustDomain, "Loom root CA", now, now.Add(ttl))
	if err != nil {
		return nil, fmt.Errorf("new root CA: %w", err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("new root CA: signing: %w", err)
	}
	return newKeyPair(der, key)
}

// NewIntermediate creates a CA signed by parent that may sign only leaf
// certificates (path length 0). Its lifetime never exceeds the parent's.
func NewIntermediate(parent *KeyPair, trustDomain string, alg KeyAlgorithm, ttl time.Duration, now time.Time) (*KeyPair, error) {
	if parent == nil || parent.Cert == nil || parent.Key == nil {
		return nil, errors.New("new intermediate CA: parent key pair is missing")
	}
	if problem := caProblem(parent.Cert, now); problem != "" {
		return nil, fmt.Errorf("new intermediate CA: parent %s: %s", certName(parent.Cert), problem)
	}
	if parent.Cert.MaxPathLen == 0 && parent.Cert.MaxPathLenZero {
		return nil, fmt.Errorf("new intermediate CA: parent %s has path length 0 and may not sign CAs", certName(parent.Cert))
	}
	if err := validateTrustDomain(trustDomain); err != nil {
		return nil, fmt.Errorf("new intermediate CA: %w", err)
	}
	ttl, err := defaultTTL(ttl, DefaultIntermediateTTL)
	if err != nil {
		return nil, fmt.Errorf("new intermediate CA: %w", err)
	}
	key, err := GenerateKey(alg)
	if err != nil {
		return nil, fmt.Errorf("new intermediate CA: %w", err)
	}
	tmpl, err := caTemplate(trustDomain, "Loom intermediate CA", now, clampNotAfter(now.Add(ttl), parent.Cert))
	if err != nil {
		return nil, fmt.Errorf("new intermediate CA: %w", err)
	}
	tmpl.MaxPathLen = 0
	tmpl.MaxPathLenZero = true
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent.Cert, key.Public(), parent.Key)
	if err != nil {
		return nil, fmt.Errorf("new intermediate CA: signing: %w", err)
	}
	return newKeyPair(der, key)
}

func caTemplate(trustDomain, commonName string, now, notAfter time.Time) (*x509.Certificate, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{trustDomain}, CommonName: commonName},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}, nil
}

func defaultTTL(ttl, def time.Duration) (time.Duration, error) {
	switch {
	case ttl < 0:
		return 0, fmt.Errorf("TTL %s is negative", ttl)
	case ttl == 0:
		return def, nil
	}
	return ttl, nil
}

// clampNotAfter keeps a certificate from outliving its issuer.
func clampNotAfter(notAfter time.Time, issuer *x509.Certificate) time.Time {
	if notAfter.After(issuer.NotAfter) {
		return issuer.NotAfter
	}
	return notAfter
}

// caProblem says why cert cannot act as a CA at now, or "" if it can.
func caProblem(cert *x509.Certificate, now time.Time) string {
	switch {
	case !cert.BasicConstraintsValid || !cert.IsCA:
		return "not a CA (basic constraints do not say CA:TRUE)"
	case cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0:
		return "not a CA (key usage lacks certificate signing)"
	}
	return validityProblem(cert, now)
}

// validityProblem says why cert is not valid at now, or "".
func validityProblem(cert *x509.Certificate, now time.Time) string {
	switch {
	case now.After(cert.NotAfter):
		return fmt.Sprintf("expired at %s", cert.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(cert.NotBefore):
		return fmt.Sprintf("not yet valid (valid from %s)", cert.NotBefore.UTC().Format(time.RFC3339))
	}
	return ""
}
