package ca

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"sync"
	"testing"
	"time"
)

var oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}

func TestSign(t *testing.T) {
	ca := ecdsaCA(t)
	s := mustSigner(t, ca)
	shortInter := mustIntermediate(t, ca.root, 10*time.Hour, testNow)
	short, err := NewSigner(shortInter, nil, [][]byte{ca.root.CertPEM}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	selfSigned, err := NewSigner(ca.root, nil, [][]byte{ca.root.CertPEM}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := ParseCSR(csrPEM(t, mustKey(t, ECDSAP256), []string{testID.String()}, nil))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		signer       *Signer
		csr          *x509.CertificateRequest
		id           Identity
		ttl          time.Duration
		now          time.Time
		wantNotAfter time.Time
		wantChainLen int
		wantErr      string
	}{
		{"default TTL", s, csr, testID, 0, testNow, testNow.Add(24 * time.Hour), 3, ""},
		{"one hour", s, csr, testID, time.Hour, testNow, testNow.Add(time.Hour), 3, ""},
		{"maximum TTL", s, csr, testID, MaxWorkloadTTL, testNow, testNow.Add(MaxWorkloadTTL), 3, ""},
		{"clamped to signer", short, csr, testID, 0, testNow, shortInter.Cert.NotAfter, 3, ""},
		{"self-signed signer", selfSigned, csr, testID, 0, testNow, testNow.Add(24 * time.Hour), 2, ""},
		{"later clock", s, csr, testID, 0, testNow.Add(100 * 24 * time.Hour), testNow.Add(101 * 24 * time.Hour), 3, ""},
		{"negative TTL", s, csr, testID, -time.Second, testNow, time.Time{}, 0, "requested TTL -1s is negative"},
		{"TTL over maximum", s, csr, testID, MaxWorkloadTTL + time.Second, testNow, time.Time{}, 0, "exceeds the maximum 2160h0m0s"},
		{"signer expired", short, csr, testID, 0, testNow.Add(11 * time.Hour), time.Time{}, 0, "signing certificate " + certName(shortInter.Cert) + ": expired at"},
		{"signer not yet valid", s, csr, testID, 0, testNow.Add(-time.Hour), time.Time{}, 0, "not yet valid"},
		{"nil CSR", s, nil, testID, 0, testNow, time.Time{}, 0, "CSR is missing"},
		{"invalid identity", s, csr, Identity{TrustDomain: "cluster.local", Namespace: "a/b", ServiceAccount: "x"}, 0, testNow, time.Time{}, 0, `namespace "a/b"`},
		{"CSR key not allowed", s, &x509.CertificateRequest{PublicKey: "k"}, testID, 0, testNow, time.Time{}, 0, "public key type string is not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain, err := tt.signer.Sign(tt.csr, tt.id, tt.ttl, tt.now)
			wantErrContains(t, err, tt.wantErr)
			if err != nil {
				return
			}
			if len(chain) != tt.wantChainLen {
				t.Fatalf("chain has %d entries, want %d", len(chain), tt.wantChainLen)
			}
			if chain[len(chain)-1] != string(ca.root.CertPEM) {
				t.Fatal("last entry is not the root")
			}
			leaf := verifyChain(t, chain, tt.signer.Roots(), tt.now)
			checkLeaf(t, leaf, tt.csr, tt.id, tt.now, tt.wantNotAfter)
		})
	}
}

func checkLeaf(t *testing.T, leaf *x509.Certificate, csr *x509.CertificateRequest, id Identity, now, wantNotAfter time.Time) {
	t.Helper()
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != id.String() {
		t.Errorf("URIs = %v, want only %s", leaf.URIs, id)
	}
	if len(leaf.DNSNames)+len(leaf.EmailAddresses)+len(leaf.IPAddresses) != 0 {
		t.Errorf("leaf carries other SANs: %v %v %v", leaf.DNSNames, leaf.EmailAddresses, leaf.IPAddresses)
	}
	if len(leaf.Subject.Names) != 0 {
		t.Errorf("subject = %q, want empty", leaf.Subject)
	}
	critical := false
	for _, e := range leaf.Extensions {
		if e.Id.Equal(oidSubjectAltName) {
			critical = e.Critical
		}
	}
	if !critical {
		t.Error("SAN extension is not critical")
	}
	if leaf.IsCA {
		t.Error("leaf is a CA")
	}
	if want := x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment; leaf.KeyUsage != want {
		t.Errorf("KeyUsage = %v, want %v", leaf.KeyUsage, want)
	}
	if len(leaf.ExtKeyUsage) != 2 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth || leaf.ExtKeyUsage[1] != x509.ExtKeyUsageClientAuth {
		t.Errorf("ExtKeyUsage = %v, want ServerAuth, ClientAuth", leaf.ExtKeyUsage)
	}
	if !samePublicKey(leaf.PublicKey, csr.PublicKey) {
		t.Error("leaf key is not the CSR's key")
	}
	if !leaf.NotBefore.Equal(now.Add(-time.Minute)) || !leaf.NotAfter.Equal(wantNotAfter) {
		t.Errorf("validity %s .. %s, want %s .. %s", leaf.NotBefore, leaf.NotAfter, now.Add(-time.Minute), wantNotAfter)
	}
	if leaf.SerialNumber.Sign() <= 0 {
		t.Errorf("serial %v", leaf.SerialNumber)
	}
}

// The identity comes from the authenticated caller, never from the CSR.
func TestIdentityComesFromCallerNotCSR(t *testing.T) {
	ca := ecdsaCA(t)
	s := mustSigner(t, ca)
	other := "spiffe://cluster.local/ns/kube-system/sa/admin"
	csr, err := ParseCSR(csrPEM(t, mustKey(t, ECDSAP256), []string{other}, []string{"evil.example.com"}))
	if err != nil {
		t.Fatal(err)
	}
	wantErrContains(t, CheckRequestedIdentity(csr, testID), "DNS names")
	csr.DNSNames = nil
	wantErrContains(t, CheckRequestedIdentity(csr, testID), `CSR asks for "`+other+`"; the caller is `+testID.String())
	// Even if a caller skipped the check, Sign copies nothing from the CSR.
	chain, err := s.Sign(csr, testID, 0, testNow)
	if err != nil {
		t.Fatal(err)
	}
	leaf := verifyChain(t, chain, s.Roots(), testNow)
	checkLeaf(t, leaf, csr, testID, testNow, testNow.Add(DefaultWorkloadTTL))
}

func TestSignRSAAndEd25519Keys(t *testing.T) {
	s := mustSigner(t, ecdsaCA(t))
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []crypto.Signer{mustKey(t, RSA2048), mustKey(t, ECDSAP256), edKey} {
		csr, err := ParseCSR(csrPEM(t, key, nil, nil))
		if err != nil {
			t.Fatal(err)
		}
		chain, err := s.Sign(csr, testID, 0, testNow)
		if err != nil {
			t.Fatalf("%T: %v", key, err)
		}
		checkLeaf(t, verifyChain(t, chain, s.Roots(), testNow), csr, testID, testNow, testNow.Add(DefaultWorkloadTTL))
	}
}

func TestSignConcurrently(t *testing.T) {
	s := mustSigner(t, ecdsaCA(t))
	csr, err := ParseCSR(csrPEM(t, mustKey(t, ECDSAP256), nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	const n = 16
	serials := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id := Identity{TrustDomain: "cluster.local", Namespace: "ns", ServiceAccount: string(rune('a' + i))}
			chain, err := s.Sign(csr, id, 0, testNow)
			if err != nil {
				t.Error(err)
				return
			}
			leaf := mustParseCert(t, chain[0])
			if leaf.URIs[0].String() != id.String() {
				t.Errorf("goroutine %d got %s", i, leaf.URIs[0])
			}
			serials[i] = leaf.SerialNumber.String()
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, sn := range serials {
		if seen[sn] {
			t.Fatalf("serial %s issued twice", sn)
		}
		seen[sn] = true
	}
}

// TestSignAnswersTheWholeTrustBundle: while a root is rotated the signer trusts two roots;
// the last entry of the chain is all of them, as istiod answers with its root-cert.pem, so
// a workload that gets a certificate from either root trusts its peers of the other.
func TestSignAnswersTheWholeTrustBundle(t *testing.T) {
	ca := ecdsaCA(t)
	next, err := NewRoot("cluster.local", ECDSAP256, time.Hour*24*365, testNow)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(ca.inter, [][]byte{ca.inter.CertPEM, ca.root.CertPEM}, [][]byte{ca.root.CertPEM, next.CertPEM}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := ParseCSR(csrPEM(t, mustKey(t, ECDSAP256), []string{testID.String()}, nil))
	if err != nil {
		t.Fatal(err)
	}
	chain, err := s.Sign(csr, testID, 0, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 3 || chain[1] != string(ca.inter.CertPEM) {
		t.Fatalf("want leaf, intermediate, bundle; got %d entries", len(chain))
	}
	if want := string(ca.root.CertPEM) + string(next.CertPEM); chain[2] != want {
		t.Fatalf("last entry is not the trust bundle (both roots):\n%s", chain[2])
	}
}
