package meshca

import (
	"crypto/x509"
	"fmt"
	"time"

	"loom.dev/loom/pkg/ca"
)

// Keys of SelfSignedSecret while a root is rotated: the next root and its intermediate
// (phase Distributing), then the old root and when it leaves the bundle (phase Retiring).
const (
	keyNextRootCert        = "next-root-cert.pem"
	keyNextRootKey         = "next-root-key.pem"
	keyNextCACert          = "next-ca-cert.pem"
	keyNextCAKey           = "next-ca-key.pem"
	keyPreviousRootCert    = "previous-root-cert.pem"
	keyPreviousRetireAfter = "previous-root-retire-after"
)

// selfSignedMaterial is the content of SelfSignedSecret.
type selfSignedMaterial struct {
	root, inter         *ca.KeyPair
	nextRoot, nextInter *ca.KeyPair       // phase Distributing
	previousRoot        *x509.Certificate // phase Retiring
	previousRootPEM     []byte
	retireAfter         time.Time
}

func parseSelfSigned(data map[string][]byte) (*selfSignedMaterial, error) {
	pair := func(certKey, keyKey string) (*ca.KeyPair, error) {
		kp, err := ca.ParseKeyPair(data[certKey], data[keyKey])
		if err != nil {
			return nil, fmt.Errorf("keys %q and %q: %w", certKey, keyKey, err)
		}
		return kp, nil
	}
	m := &selfSignedMaterial{}
	var err error
	if m.root, err = pair(keyRootCert, keyRootKey); err != nil {
		return nil, err
	}
	if m.inter, err = pair(keyCACert, keyCAKey); err != nil {
		return nil, err
	}
	_, hasNext := data[keyNextRootCert]
	_, hasPrevious := data[keyPreviousRootCert]
	switch {
	case hasNext && hasPrevious:
		return nil, fmt.Errorf("keys %q and %q: a root rotation is both distributing and retiring", keyNextRootCert, keyPreviousRootCert)
	case hasNext:
		if m.nextRoot, err = pair(keyNextRootCert, keyNextRootKey); err != nil {
			return nil, err
		}
		if m.nextInter, err = pair(keyNextCACert, keyNextCAKey); err != nil {
			return nil, err
		}
	case hasPrevious:
		certs, err := ca.ParseCertificatesPEM(data[keyPreviousRootCert])
		if err != nil || len(certs) != 1 {
			return nil, fmt.Errorf("key %q: want one PEM certificate (%v)", keyPreviousRootCert, err)
		}
		m.previousRoot = certs[0]
		m.previousRootPEM = data[keyPreviousRootCert]
		if m.retireAfter, err = time.Parse(time.RFC3339, string(data[keyPreviousRetireAfter])); err != nil {
			return nil, fmt.Errorf("key %q: %w", keyPreviousRetireAfter, err)
		}
	}
	return m, nil
}

func (m *selfSignedMaterial) phase() ca.RotationPhase {
	switch {
	case m.nextRoot != nil:
		return ca.RotationDistributing
	case m.previousRoot != nil:
		return ca.RotationRetiring
	}
	return ca.RotationIdle
}

// bundle is every root workloads trust: the one that signs first.
func (m *selfSignedMaterial) bundle() [][]byte {
	roots := [][]byte{m.root.CertPEM}
	if m.nextRoot != nil {
		roots = append(roots, m.nextRoot.CertPEM)
	}
	if m.previousRoot != nil {
		roots = append(roots, m.previousRootPEM)
	}
	return roots
}

func (m *selfSignedMaterial) signer(now time.Time) (*ca.Signer, error) {
	return ca.NewSigner(m.inter, [][]byte{m.inter.CertPEM, m.root.CertPEM}, m.bundle(), now)
}
