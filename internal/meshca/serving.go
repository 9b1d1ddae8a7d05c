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

// servingCert is the TLS certificate of port 15012, issued by the mesh CA itself for the
// control plane's DNS names, so that agents verify it with the trust bundle they have.
type servingCert struct {
	dnsNames []string
	clock    clock.PassiveClock
	cert     atomic.Pointer[tls.Certificate]
	issuer   atomic.Pointer[ca.Signer]
}

func (s *servingCert) current() *tls.Certificate { return s.cert.Load() }

// renew issues a new serving certificate when there is none, when it passed half its life,
// or when the signer changed.
func (s *servingCert) renew(signer *ca.Signer) error {
	now := s.clock.Now()
	if c := s.cert.Load(); c != nil && s.issuer.Load() == signer && c.Leaf != nil &&
		now.Before(c.Leaf.NotBefore.Add(c.Leaf.NotAfter.Sub(c.Leaf.NotBefore)/2)) {
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
	s.cert.Store(cert)
	s.issuer.Store(signer)
	return nil
}
