package ca

import (
	"crypto/x509"
	"testing"
	"time"
)

func TestNewSigner(t *testing.T) {
	ca := ecdsaCA(t)
	root, inter := ca.root, ca.inter
	otherRoot := mustRoot(t, 0, testNow)
	// mid may sign one more CA level, so root -> mid -> deep is a valid path.
	mid := craft(t, root, func(c *x509.Certificate) { c.MaxPathLen = 1 })
	deep := mustIntermediate(t, mid, 0, testNow)
	expiredRoot := craft(t, nil, func(c *x509.Certificate) { c.NotAfter = testNow.Add(-time.Hour) })
	underExpiredRoot := craft(t, expiredRoot, func(c *x509.Certificate) { c.MaxPathLen, c.MaxPathLenZero = 0, true })
	notCA := craft(t, root, func(c *x509.Certificate) { c.IsCA = false })
	noCertSign := craft(t, root, func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageDigitalSignature })
	expired := craft(t, root, func(c *x509.Certificate) { c.NotAfter = testNow.Add(-time.Second) })
	future := craft(t, root, func(c *x509.Certificate) { c.NotBefore = testNow.Add(time.Hour) })
	expiredMid := craft(t, root, func(c *x509.Certificate) { c.NotAfter = testNow.Add(-time.Hour); c.MaxPathLen = 1 })
	underExpiredMid := craft(t, expiredMid, nil)

	P := func(kps ...*KeyPair) [][]byte {
		var out [][]byte
		for _, kp := range kps {
			out = append(out, kp.CertPEM)
		}
		return out
	}
	tests := []struct {
		name      string
		signing   *KeyPair
		chain     [][]byte
		roots     [][]byte
		wantChain []*KeyPair
		wantErr   string
	}{
		{"chain is the root", inter, P(root), P(root), []*KeyPair{inter, root}, ""},
		{"chain lists signer and root", inter, P(inter, root), P(root), []*KeyPair{inter, root}, ""},
		{"chain empty", inter, nil, P(root), []*KeyPair{inter, root}, ""},
		{"chain in one PEM entry", inter, [][]byte{cat(inter.CertPEM, root.CertPEM)}, P(root), []*KeyPair{inter, root}, ""},
		{"self-signed signer", root, nil, P(root), []*KeyPair{root}, ""},
		{"two intermediates", deep, P(mid, root), P(root), []*KeyPair{deep, mid, root}, ""},
		{"two intermediates, duplicates and wrong order", deep, P(root, mid, deep, mid, root), P(root, root), []*KeyPair{deep, mid, root}, ""},
		{"rotation bundle", inter, P(root), P(otherRoot, root), []*KeyPair{inter, root}, ""},
		{"expired extra root is kept", inter, P(root), P(root, expiredRoot), []*KeyPair{inter, root}, ""},
		{"nil signing", nil, nil, P(root), nil, "signing key pair is missing"},
		{"signer not a CA", notCA, nil, P(root), nil, "signing certificate: not a CA (basic constraints"},
		{"signer lacks certSign", noCertSign, nil, P(root), nil, "signing certificate: not a CA (key usage lacks certificate signing)"},
		{"signer expired", expired, nil, P(root), nil, "signing certificate: expired at " + expired.Cert.NotAfter.Format(time.RFC3339)},
		{"signer not yet valid", future, nil, P(root), nil, "signing certificate: not yet valid (valid from " + future.Cert.NotBefore.Format(time.RFC3339)},
		{"key mismatch", &KeyPair{Cert: inter.Cert, Key: root.Key}, nil, P(root), nil, "signing key: key does not match signing certificate"},
		{"no roots", inter, nil, nil, nil, "roots: holds no certificate"},
		{"roots garbage", inter, nil, [][]byte{[]byte("x")}, nil, "roots: entry 1: not PEM"},
		{"root not a CA", inter, nil, P(root, notCA), nil, "roots: certificate 2 " + certName(notCA.Cert) + ": not a CA"},
		{"chain garbage", inter, [][]byte{root.KeyPEM}, P(root), nil, `chain: entry 1: not a certificate: PEM block 1 is "PRIVATE KEY"`},
		{"wrong root", inter, nil, P(otherRoot), nil, "chain: signing certificate does not verify to roots: x509: certificate signed by unknown authority"},
		{"chain ends in a root not in roots", inter, P(root), P(otherRoot), nil, "chain: certificate 1 " + certName(root.Cert) + ": a root that roots does not hold"},
		{"missing intermediate", deep, P(root), P(root), nil, "chain: signing certificate does not verify to roots"},
		{"unrelated intermediate", inter, P(mid, root), P(root), nil, "chain: certificate " + certName(mid.Cert) + " is not on the path from signing certificate to roots"},
		{"expired intermediate", underExpiredMid, P(expiredMid, root), P(root), nil, "chain: certificate 1 " + certName(expiredMid.Cert) + ": expired at"},
		{"expired root in use", underExpiredRoot, nil, P(expiredRoot), nil, "roots: certificate 1 " + certName(expiredRoot.Cert) + ": expired at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSigner(tt.signing, tt.chain, tt.roots, testNow)
			wantErrContains(t, err, tt.wantErr)
			if err != nil {
				return
			}
			got := s.Chain()
			if len(got) != len(tt.wantChain) {
				t.Fatalf("chain has %d certificates, want %d", len(got), len(tt.wantChain))
			}
			for i, want := range tt.wantChain {
				if string(got[i]) != string(want.CertPEM) {
					t.Fatalf("chain[%d] = %s, want %s", i, certName(mustParseCert(t, string(got[i]))), certName(want.Cert))
				}
			}
			if !s.NotAfter().Equal(tt.signing.Cert.NotAfter) || !s.RootNotAfter().Equal(tt.wantChain[len(tt.wantChain)-1].Cert.NotAfter) {
				t.Fatalf("NotAfter %s / RootNotAfter %s", s.NotAfter(), s.RootNotAfter())
			}
			if !s.SigningCert().Equal(tt.signing.Cert) {
				t.Fatal("SigningCert is not the signing certificate")
			}
		})
	}
}

func TestSignerRootsAndAccessorsAreCopies(t *testing.T) {
	ca := ecdsaCA(t)
	other := mustRoot(t, 0, testNow)
	s, err := NewSigner(ca.inter, nil, [][]byte{ca.root.CertPEM, other.CertPEM, ca.root.CertPEM}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	roots := s.Roots()
	if len(roots) != 2 || string(roots[0]) != string(ca.root.CertPEM) || string(roots[1]) != string(other.CertPEM) {
		t.Fatalf("Roots() = %d entries, want root and other root without duplicates", len(roots))
	}
	roots[0][0] = 'X'
	s.Chain()[0][0] = 'X'
	if s.Roots()[0][0] == 'X' || s.Chain()[0][0] == 'X' {
		t.Fatal("changing a returned slice changed the Signer")
	}
}
