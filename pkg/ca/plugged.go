package ca

import (
	"fmt"
	"time"
)

// Keys of Istio's cacerts Secret, the operator-supplied ("plugged") CA.
const (
	CACertKey    = "ca-cert.pem"    // the signing certificate
	CAKeyKey     = "ca-key.pem"     // its private key
	RootCertKey  = "root-cert.pem"  // the root(s) workloads trust
	CertChainKey = "cert-chain.pem" // ca-cert.pem up to the root
)

var pluggedNames = partNames{cert: CACertKey, key: CAKeyKey, chain: CertChainKey, roots: RootCertKey}

// KeyError is a problem with one key of the cacerts Secret.
type KeyError struct {
	Key     string
	Problem string
}

func (e *KeyError) Error() string { return fmt.Sprintf("key %q: %s", e.Key, e.Problem) }

// LoadPlugged builds a Signer from the data of an Istio cacerts Secret.
// cert-chain.pem may list ca-cert.pem first and the root last, as Istio's
// documentation says, or leave either out. Every error is a *KeyError.
func LoadPlugged(data map[string][]byte, now time.Time) (*Signer, error) {
	for _, k := range []string{CACertKey, CAKeyKey, RootCertKey, CertChainKey} {
		if _, ok := data[k]; !ok {
			return nil, &KeyError{Key: k, Problem: "missing"}
		}
	}
	certs, err := parseCertsPEM(data[CACertKey])
	if err != nil {
		return nil, &KeyError{Key: CACertKey, Problem: err.Error()}
	}
	if len(certs) != 1 {
		return nil, &KeyError{Key: CACertKey, Problem: fmt.Sprintf("holds %d certificates, want 1", len(certs))}
	}
	key, err := parseKeyPEM(data[CAKeyKey])
	if err != nil {
		return nil, &KeyError{Key: CAKeyKey, Problem: err.Error()}
	}
	roots, err := parseCertsPEM(data[RootCertKey])
	if err != nil {
		return nil, &KeyError{Key: RootCertKey, Problem: err.Error()}
	}
	chain, err := parseCertsPEM(data[CertChainKey])
	if err != nil {
		return nil, &KeyError{Key: CertChainKey, Problem: err.Error()}
	}
	s, perr := buildSigner(certs[0], key, chain, roots, now, pluggedNames)
	if perr != nil {
		return nil, &KeyError{Key: perr.name, Problem: perr.problem}
	}
	return s, nil
}
