package meshca

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"

	"loom.dev/loom/pkg/ca"
)

// servingUsages are the key usages asked for the CA's serving certificate.
var servingUsages = []cmapi.KeyUsage{cmapi.UsageServerAuth, cmapi.UsageDigitalSignature, cmapi.UsageKeyEncipherment}

// servingRequestTimeout bounds the wait for the issuer to sign the serving certificate.
const servingRequestTimeout = time.Minute

// cmMaterial is what mode CertManager knows of its issuer: the trust bundle (status.ca of
// the serving certificate's request) and the issuing chain above the serving certificate.
// The serving certificate is what teaches it, so they are renewed together.
type cmMaterial struct {
	requester *cmRequester
	dnsNames  []string
	serving   *servingCert
	bundle    atomic.Pointer[[]byte]

	mu    sync.Mutex
	chain []byte // the serving certificate's issuers up to the root
}

// renewServing asks the issuer for a new serving certificate for the DNS names and learns
// the trust bundle from it. It keeps what it had when anything fails.
func (m *cmMaterial) renewServing(ctx context.Context) error {
	if len(m.dnsNames) == 0 {
		return errors.New("serving certificate: no DNS names")
	}
	key, err := ca.GenerateKey(ca.ECDSAP256)
	if err != nil {
		return err
	}
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: m.dnsNames}, key)
	if err != nil {
		return fmt.Errorf("serving certificate CSR: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, servingRequestTimeout)
	defer cancel()
	got, err := m.requester.request(ctx, certRequest{
		csrPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER}),
		ttl:    servingTTL, usages: servingUsages,
		labels: map[string]string{labelPurpose: purposeServing},
	})
	if err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	cert, roots, chain, err := servingFromIssued(got, key, m.dnsNames)
	if err != nil {
		return fmt.Errorf("serving certificate from CertificateRequest %s/%s: %w", m.requester.namespace, got.name, err)
	}
	m.serving.store(cert, nil)
	m.bundle.Store(&roots)
	m.mu.Lock()
	m.chain = chain
	m.mu.Unlock()
	return nil
}

// servingFromIssued checks an issued serving certificate (our key, our names, chained to
// status.ca) and returns it with the trust bundle and the issuing chain.
func servingFromIssued(got *issued, key crypto.Signer, dnsNames []string) (*tls.Certificate, []byte, []byte, error) {
	if len(got.ca) == 0 {
		return nil, nil, nil, errors.New("the issuer set no status.ca, so the trust bundle stays unknown (mode CertManager takes the root from status.ca)")
	}
	certs, err := splitCertsPEM(got.certificate)
	if err != nil || len(certs) == 0 {
		return nil, nil, nil, fmt.Errorf("status.certificate: no certificate (%v)", err)
	}
	rootList, err := splitCertsPEM(got.ca)
	if err != nil || len(rootList) == 0 {
		return nil, nil, nil, fmt.Errorf("status.ca: no certificate (%v)", err)
	}
	cert := &tls.Certificate{PrivateKey: key}
	inter, pool := x509.NewCertPool(), x509.NewCertPool()
	var chain []byte
	for i, c := range certs {
		b, _ := pem.Decode([]byte(c))
		cert.Certificate = append(cert.Certificate, b.Bytes)
		if i == 0 {
			if cert.Leaf, err = x509.ParseCertificate(b.Bytes); err != nil {
				return nil, nil, nil, err
			}
			continue
		}
		inter.AppendCertsFromPEM([]byte(c))
		chain = append(chain, c...)
	}
	var roots []byte
	for _, r := range rootList {
		pool.AppendCertsFromPEM([]byte(r))
		roots = append(roots, r...)
	}
	if pub, ok := cert.Leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(key.Public()) {
		return nil, nil, nil, errors.New("the certificate is not for the key the CSR was made with")
	}
	for _, name := range dnsNames {
		if _, err := cert.Leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			return nil, nil, nil, fmt.Errorf("agents could not verify it for %q with status.ca: %w", name, err)
		}
	}
	for _, r := range rootList {
		if !slices.Contains(certs, r) {
			chain = append(chain, r...)
		}
	}
	return cert, roots, chain, nil
}

// state is the trust bundle and issuing chain for the CA state ConfigMap (nil until known).
func (m *cmMaterial) state() (roots, chain []byte) {
	if b := m.bundle.Load(); b != nil {
		roots = *b
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return roots, m.chain
}
