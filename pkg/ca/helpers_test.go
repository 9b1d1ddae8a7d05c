package ca

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// testNow is the injected clock of every test; no test reads the real time.
var testNow = time.Date(2027, 6, 1, 12, 0, 0, 0, time.UTC)

var testID = Identity{TrustDomain: "cluster.local", Namespace: "shop", ServiceAccount: "cart"}

type testCA struct {
	root, inter *KeyPair
}

var (
	sharedCAOnce sync.Once
	sharedCA     testCA
	sharedCAErr  error
)

// ecdsaCA returns a root and intermediate shared by tests that do not
// modify them (key generation is slow under -race).
func ecdsaCA(t testing.TB) testCA {
	t.Helper()
	sharedCAOnce.Do(func() {
		sharedCA.root, sharedCAErr = NewRoot("cluster.local", ECDSAP256, 0, testNow)
		if sharedCAErr == nil {
			sharedCA.inter, sharedCAErr = NewIntermediate(sharedCA.root, "cluster.local", ECDSAP256, 0, testNow)
		}
	})
	if sharedCAErr != nil {
		t.Fatal(sharedCAErr)
	}
	return sharedCA
}

func mustRoot(t testing.TB, ttl time.Duration, now time.Time) *KeyPair {
	t.Helper()
	kp, err := NewRoot("cluster.local", ECDSAP256, ttl, now)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func mustIntermediate(t testing.TB, parent *KeyPair, ttl time.Duration, now time.Time) *KeyPair {
	t.Helper()
	kp, err := NewIntermediate(parent, "cluster.local", ECDSAP256, ttl, now)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func mustSigner(t testing.TB, ca testCA) *Signer {
	t.Helper()
	s, err := NewSigner(ca.inter, [][]byte{ca.root.CertPEM}, [][]byte{ca.root.CertPEM}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// csrPEM builds a PEM CSR for key asking for the given URIs and DNS names.
func csrPEM(t testing.TB, key crypto.Signer, uris []string, dns []string) []byte {
	t.Helper()
	tmpl := &x509.CertificateRequest{DNSNames: dns}
	for _, u := range uris {
		parsed, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, parsed)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func mustKey(t testing.TB, alg KeyAlgorithm) crypto.Signer {
	t.Helper()
	k, err := GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustParseCert(t testing.TB, p string) *x509.Certificate {
	t.Helper()
	certs, err := parseCertsPEM([]byte(p))
	if err != nil || len(certs) != 1 {
		t.Fatalf("parsing %q: %d certs, %v", p, len(certs), err)
	}
	return certs[0]
}

// verifyChain checks chain (leaf first, root last) with x509.Verify against
// roots at now and returns the leaf.
func verifyChain(t testing.TB, chain []string, roots [][]byte, now time.Time) *x509.Certificate {
	t.Helper()
	if len(chain) < 2 {
		t.Fatalf("chain has %d entries, want leaf ... root", len(chain))
	}
	leaf := mustParseCert(t, chain[0])
	opts := x509.VerifyOptions{
		Roots:         x509.NewCertPool(),
		Intermediates: x509.NewCertPool(),
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, r := range roots {
		opts.Roots.AppendCertsFromPEM(r)
	}
	for _, c := range chain[1 : len(chain)-1] {
		opts.Intermediates.AddCert(mustParseCert(t, c))
	}
	paths, err := leaf.Verify(opts)
	if err != nil {
		t.Fatalf("leaf does not verify: %v", err)
	}
	// The served chain must be exactly a verified path.
	for _, p := range paths {
		if len(p) != len(chain) {
			continue
		}
		same := true
		for i := range p {
			same = same && p[i].Equal(mustParseCert(t, chain[i]))
		}
		if same {
			return leaf
		}
	}
	t.Fatalf("served chain is not in verified order leaf ... root")
	return nil
}

func wantErrContains(t testing.TB, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want one containing %q", want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not contain %q", err, want)
	}
}

func bigOfBits(bits int) *big.Int {
	return new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
}

// craft issues a certificate like NewRoot/NewIntermediate would, after mod
// changes the template, so tests can build the bad inputs a CA must refuse.
// A nil parent makes it self-signed.
func craft(t testing.TB, parent *KeyPair, mod func(*x509.Certificate)) *KeyPair {
	t.Helper()
	key := mustKey(t, ECDSAP256)
	tmpl, err := caTemplate("cluster.local", "crafted", testNow, testNow.Add(365*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if mod != nil {
		mod(tmpl)
	}
	issuer, signer := tmpl, key
	if parent != nil {
		issuer, signer = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := newKeyPair(der, key)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
