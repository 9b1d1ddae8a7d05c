package ca

import (
	"crypto/x509"
	"time"
)

// DefaultExpiryWindow is how far ahead the CertificatesExpiring condition
// looks.
const DefaultExpiryWindow = 30 * 24 * time.Hour

// CertExpiry names one CA certificate and when it expires.
type CertExpiry struct {
	Role     string // "signing", "intermediate" or "root"
	Name     string // subject and serial
	NotAfter time.Time
}

// Expiries lists the signing certificate, the intermediates above it and
// every root of the trust bundle, in that order. A signer that is itself a
// root is listed once, as "root".
func (s *Signer) Expiries() []CertExpiry {
	role := "signing"
	if containsCert(s.roots, s.cert) {
		role = "root" // a self-signed signer is listed once
	}
	out := []CertExpiry{expiryOf(role, s.cert)}
	for _, c := range s.chain[1:] {
		if !containsCert(s.roots, c) {
			out = append(out, expiryOf("intermediate", c))
		}
	}
	for _, r := range s.roots {
		if r.Equal(s.cert) {
			continue
		}
		out = append(out, expiryOf("root", r))
	}
	return out
}

func expiryOf(role string, c *x509.Certificate) CertExpiry {
	return CertExpiry{Role: role, Name: certName(c), NotAfter: c.NotAfter}
}

// Expiring returns the certificates that expire within window of now
// (including those already expired). The CertificatesExpiring condition is
// True when the result is not empty.
func Expiring(certs []CertExpiry, now time.Time, window time.Duration) []CertExpiry {
	var out []CertExpiry
	deadline := now.Add(window)
	for _, c := range certs {
		if !c.NotAfter.After(deadline) {
			out = append(out, c)
		}
	}
	return out
}
