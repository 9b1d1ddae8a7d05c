package ca

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// opensslCACerts reads the cacerts set that openssl generated the way
// Istio's tools/certs Makefile does (see testdata/istio-cacerts/README.md).
func opensslCACerts(t testing.TB) map[string][]byte {
	t.Helper()
	data := map[string][]byte{}
	for _, k := range []string{CACertKey, CAKeyKey, RootCertKey, CertChainKey} {
		b, err := os.ReadFile(filepath.Join("testdata", "istio-cacerts", k))
		if err != nil {
			t.Fatal(err)
		}
		data[k] = b
	}
	return data
}

// loomCACerts lays out a root and intermediate made by this package as an
// Istio cacerts Secret, with a SEC1 key as `openssl ecparam -genkey` writes.
func loomCACerts(t testing.TB, ca testCA) map[string][]byte {
	t.Helper()
	sec1, err := x509.MarshalECPrivateKey(ca.inter.Key.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		CACertKey:    ca.inter.CertPEM,
		CAKeyKey:     pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}),
		RootCertKey:  ca.root.CertPEM,
		CertChainKey: cat(ca.inter.CertPEM, ca.root.CertPEM),
	}
}

func TestLoadPluggedOpenSSL(t *testing.T) {
	data := opensslCACerts(t)
	caCert := mustParseCert(t, string(data[CACertKey]))
	rootPEM := data[RootCertKey]
	for name, chain := range map[string][]byte{
		"as Istio documents":  data[CertChainKey],
		"without ca-cert.pem": rootPEM,
		"without the root":    data[CACertKey],
	} {
		t.Run(name, func(t *testing.T) {
			d := maps.Clone(data)
			d[CertChainKey] = chain
			s, err := LoadPlugged(d, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Chain(); len(got) != 2 || string(got[0]) != string(data[CACertKey]) || string(got[1]) != string(rootPEM) {
				t.Fatalf("served chain has %d entries, want ca-cert.pem, root-cert.pem", len(got))
			}
			csr, err := ParseCSR(csrPEM(t, mustKey(t, ECDSAP256), []string{testID.String()}, nil))
			if err != nil {
				t.Fatal(err)
			}
			leafChain, err := s.Sign(csr, testID, time.Hour, testNow)
			if err != nil {
				t.Fatal(err)
			}
			leaf := verifyChain(t, leafChain, [][]byte{rootPEM}, testNow)
			checkLeaf(t, leaf, csr, testID, testNow, testNow.Add(time.Hour))
			if !s.NotAfter().Equal(caCert.NotAfter) {
				t.Fatalf("NotAfter = %s, want %s", s.NotAfter(), caCert.NotAfter)
			}
		})
	}
}

func TestLoadPluggedErrors(t *testing.T) {
	ca := ecdsaCA(t)
	good := loomCACerts(t, ca)
	openssl := opensslCACerts(t)
	opensslCert := mustParseCert(t, string(openssl[CACertKey]))
	otherRoot := mustRoot(t, 0, testNow)
	unrelated := mustIntermediate(t, otherRoot, 0, testNow)
	notCA := craft(t, ca.root, func(c *x509.Certificate) { c.IsCA = false })
	expiredRoot := craft(t, nil, func(c *x509.Certificate) { c.NotAfter = testNow.Add(-time.Hour) })
	underExpiredRoot := craft(t, expiredRoot, func(c *x509.Certificate) { c.MaxPathLen, c.MaxPathLenZero = 0, true })
	expiredMid := craft(t, ca.root, func(c *x509.Certificate) { c.NotAfter = testNow.Add(-time.Hour); c.MaxPathLen = 1 })
	underExpiredMid := craft(t, expiredMid, nil)
	future := craft(t, ca.root, func(c *x509.Certificate) { c.NotBefore = testNow.Add(time.Hour) })

	with := func(base map[string][]byte, kv ...any) map[string][]byte {
		d := maps.Clone(base)
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(d, kv[i].(string))
				continue
			}
			d[kv[i].(string)] = kv[i+1].([]byte)
		}
		return d
	}
	tests := []struct {
		name        string
		data        map[string][]byte
		now         time.Time
		wantKey     string
		wantProblem string
	}{
		{"ca-cert.pem missing", with(good, CACertKey, nil), testNow, CACertKey, "missing"},
		{"ca-key.pem missing", with(good, CAKeyKey, nil), testNow, CAKeyKey, "missing"},
		{"root-cert.pem missing", with(good, RootCertKey, nil), testNow, RootCertKey, "missing"},
		{"cert-chain.pem missing", with(good, CertChainKey, nil), testNow, CertChainKey, "missing"},
		{"nil map", nil, testNow, CACertKey, "missing"},
		{"ca-cert.pem empty", with(good, CACertKey, []byte{}), testNow, CACertKey, "not PEM"},
		{"ca-cert.pem garbage", with(good, CACertKey, []byte("not a cert")), testNow, CACertKey, "not PEM"},
		{"ca-cert.pem holds a key", with(good, CACertKey, ca.inter.KeyPEM), testNow, CACertKey, `not a certificate: PEM block 1 is "PRIVATE KEY"`},
		{"ca-cert.pem bad DER", with(good, CACertKey, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}})), testNow, CACertKey, "not a certificate: PEM block 1:"},
		{"ca-cert.pem holds two", with(good, CACertKey, good[CertChainKey]), testNow, CACertKey, "holds 2 certificates, want 1"},
		{"ca-cert.pem not a CA", with(good, CACertKey, notCA.CertPEM, CAKeyKey, notCA.KeyPEM), testNow, CACertKey, "not a CA"},
		{"ca-cert.pem expired", openssl, opensslCert.NotAfter.Add(time.Second), CACertKey, "expired at " + opensslCert.NotAfter.UTC().Format(time.RFC3339)},
		{"ca-cert.pem not yet valid", with(good, CACertKey, future.CertPEM, CAKeyKey, future.KeyPEM), testNow, CACertKey, "not yet valid (valid from "},
		{"ca-key.pem garbage", with(good, CAKeyKey, []byte("secret")), testNow, CAKeyKey, "not PEM"},
		{"ca-key.pem holds a cert", with(good, CAKeyKey, ca.inter.CertPEM), testNow, CAKeyKey, `not a private key: PEM block is "CERTIFICATE"`},
		{"ca-key.pem of another cert", with(good, CAKeyKey, ca.root.KeyPEM), testNow, CAKeyKey, "key does not match ca-cert.pem"},
		{"root-cert.pem garbage", with(good, RootCertKey, []byte("x")), testNow, RootCertKey, "not PEM"},
		{"root-cert.pem holds a key", with(good, RootCertKey, ca.root.KeyPEM), testNow, RootCertKey, "not a certificate"},
		{"root-cert.pem not a CA", with(good, RootCertKey, cat(ca.root.CertPEM, notCA.CertPEM)), testNow, RootCertKey, "certificate 2 " + certName(notCA.Cert) + ": not a CA"},
		{"root-cert.pem expired", with(good, CACertKey, underExpiredRoot.CertPEM, CAKeyKey, underExpiredRoot.KeyPEM, RootCertKey, expiredRoot.CertPEM, CertChainKey, underExpiredRoot.CertPEM), testNow, RootCertKey, "certificate 1 " + certName(expiredRoot.Cert) + ": expired at"},
		{"cert-chain.pem garbage", with(good, CertChainKey, []byte("x")), testNow, CertChainKey, "not PEM"},
		{"cert-chain.pem holds a key", with(good, CertChainKey, cat(ca.inter.CertPEM, ca.inter.KeyPEM)), testNow, CertChainKey, `not a certificate: PEM block 2 is "PRIVATE KEY"`},
		{"wrong root-cert.pem", with(good, RootCertKey, otherRoot.CertPEM, CertChainKey, ca.inter.CertPEM), testNow, CertChainKey, "ca-cert.pem does not verify to root-cert.pem"},
		{"cert-chain.pem ends in another root", with(good, RootCertKey, otherRoot.CertPEM), testNow, CertChainKey, "certificate 2 " + certName(ca.root.Cert) + ": a root that root-cert.pem does not hold"},
		{"cert-chain.pem with an unrelated CA", with(good, CertChainKey, cat(ca.inter.CertPEM, unrelated.CertPEM, ca.root.CertPEM), RootCertKey, cat(ca.root.CertPEM, otherRoot.CertPEM)), testNow, CertChainKey, "certificate " + certName(unrelated.Cert) + " is not on the path from ca-cert.pem to root-cert.pem"},
		{"cert-chain.pem with an expired intermediate", with(good, CACertKey, underExpiredMid.CertPEM, CAKeyKey, underExpiredMid.KeyPEM, CertChainKey, cat(underExpiredMid.CertPEM, expiredMid.CertPEM, ca.root.CertPEM)), testNow, CertChainKey, "certificate 2 " + certName(expiredMid.Cert) + ": expired at"},
		{"openssl set with Loom root", with(openssl, RootCertKey, ca.root.CertPEM, CertChainKey, openssl[CACertKey]), testNow, CertChainKey, "ca-cert.pem does not verify to root-cert.pem: x509: certificate signed by unknown authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadPlugged(tt.data, tt.now)
			var ke *KeyError
			if !errors.As(err, &ke) {
				t.Fatalf("error %v (%T) is not a *KeyError", err, err)
			}
			if ke.Key != tt.wantKey {
				t.Fatalf("error %q names key %q, want %q", err, ke.Key, tt.wantKey)
			}
			wantErrContains(t, err, `key "`+tt.wantKey+`": `+tt.wantProblem)
		})
	}
	if _, err := LoadPlugged(good, testNow); err != nil {
		t.Fatalf("the unmodified set fails: %v", err)
	}
}
