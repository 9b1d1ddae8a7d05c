package meshca

import (
	"crypto/tls"
	"crypto/x509"
	"sync/atomic"
	"time"

	"k8s.io/utils/clock"

	"loom.dev/loom/pkg/ca"
)

// servingTTL is the lifetime of the CA's own serving certificate; it is renewed at half.
const servingTTL = 24 * time.Hour

// servingCert is the TLS certificate of port 15012, issued by the mesh CA itself (or, in
// mode CertManager, by the issuer) for the control plane's DNS names, so that agents verify
// it with the trust bundle they have.
type servingCert struct {
	dnsNames []string
	clock    clock.PassiveClock
	cert     atomic.Pointer[tls.Certificate]
	issuer   atomic.Pointer[ca.Signer]
}

func (s *servingCert) current() *tls.Certificate { return s.cert.Load() }

// due says the certificate should be renewed: there is none, or it passed half its life.
func (s *servingCert) due() bool {
	c := s.cert.Load()
	return c == nil || c.Leaf == nil || !s.clock.Now().Before(c.Leaf.NotBefore.Add(c.Leaf.NotAfter.Sub(c.Leaf.NotBefore)/2))
}

// store makes cert (issued by signer, nil when not signed locally) the one served.
func (s *servingCert) store(cert *tls.Certificate, signer *ca.Signer) {
	s.cert.Store(cert)
	s.issuer.Store(signer)
}

// renew issues a new serving certificate when there is none, when it passed half its life,
// or when the signer changed.
func (s *servingCert) renew(signer *ca.Signer) error {
	now := s.clock.Now()
	if !s.due() && s.issuer.Load() == signer {
		return nil
	}
	key, err := ca.GenerateKey(ca.ECDSAP256)
	if err != nil {
		return err
	}
	chain, err := signer.SignServing(key.Public(), s.dnsNames, servingTTL, now)
	if err != nil {
		return err
	}
	cert := &tls.Certificate{PrivateKey: key, Certificate: chain}
	if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
		return err
	}
	s.store(cert, signer)
	return nil
}
