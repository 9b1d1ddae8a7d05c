package agent

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"time"
)

// maxClockSkew is how far in the future a new certificate's NotBefore may
// be: the CA's clock may run slightly ahead of the workload's.
const maxClockSkew = 5 * time.Minute

// bundle is one issued certificate with everything the outputs need.
type bundle struct {
	leaf     *x509.Certificate
	keyPEM   []byte // the workload key, PKCS #8
	chainPEM []byte // leaf then intermediates
	rootPEM  []byte // the trust bundle: the last entry of the CA's chain
}

// newBundle checks the CA's cert_chain (leaf first, root last) against the
// key the request was made with and the identity asked for, and returns the
// bundle to publish. It refuses anything it cannot verify.
func newBundle(chain []string, key crypto.Signer, id *url.URL, now time.Time) (*bundle, error) {
	if len(chain) < 2 {
		return nil, fmt.Errorf("CA response cert_chain has %d entries; want the leaf first and the root last", len(chain))
	}
	entries := make([][]*x509.Certificate, len(chain))
	for i, entry := range chain {
		certs, err := parseCerts([]byte(entry))
		if err != nil {
			return nil, fmt.Errorf("CA response cert_chain[%d]: %w", i, err)
		}
		entries[i] = certs
	}
	leaf := entries[0][0]
	if err := checkLeaf(leaf, key, id); err != nil {
		return nil, err
	}
	roots, intermediates := x509.NewCertPool(), x509.NewCertPool()
	for _, c := range entries[len(entries)-1] {
		roots.AddCert(c)
	}
	for _, entry := range entries[:len(entries)-1] {
		for _, c := range entry {
			if c != leaf {
				intermediates.AddCert(c)
			}
		}
	}
	at := now
	if leaf.NotBefore.After(now) && leaf.NotBefore.Sub(now) <= maxClockSkew {
		at = leaf.NotBefore
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: intermediates, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}); err != nil {
		return nil, fmt.Errorf("CA response: certificate for %s does not verify against the root in cert_chain: %w", id, err)
	}
	keyPEM, err := keyPEM(key)
	if err != nil {
		return nil, err
	}
	return &bundle{
		leaf:     leaf,
		keyPEM:   keyPEM,
		chainPEM: joinPEM(chain[:len(chain)-1]),
		rootPEM:  joinPEM(chain[len(chain)-1:]),
	}, nil
}

// checkLeaf refuses a leaf that is not for key or not exactly for id.
func checkLeaf(leaf *x509.Certificate, key crypto.Signer, id *url.URL) error {
	pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(key.Public()) {
		return fmt.Errorf("CA response: leaf certificate (serial %s) is not for the key in the request", leaf.SerialNumber)
	}
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != id.String() {
		return fmt.Errorf("CA response: leaf certificate has URI SANs %v; want exactly %s", leaf.URIs, id)
	}
	return nil
}

// parseCerts parses one or more PEM certificates and nothing else.
func parseCerts(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for rest := bytes.TrimSpace(data); len(rest) > 0; rest = bytes.TrimSpace(rest) {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil || block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("not a PEM certificate")
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("empty")
	}
	return certs, nil
}

// joinPEM concatenates PEM entries, each ending with a newline.
func joinPEM(entries []string) []byte {
	var b bytes.Buffer
	for _, e := range entries {
		b.WriteString(e)
		if len(e) > 0 && e[len(e)-1] != '\n' {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}
