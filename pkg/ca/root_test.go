package ca

import (
	"crypto/x509"
	"testing"
	"time"
)

func TestNewRoot(t *testing.T) {
	tests := []struct {
		name         string
		td           string
		alg          KeyAlgorithm
		ttl          time.Duration
		wantNotAfter time.Time
		wantErr      string
	}{
		{"default TTL ECDSA", "cluster.local", ECDSAP256, 0, testNow.Add(DefaultRootTTL), ""},
		{"explicit TTL RSA", "example.org", RSA2048, 48 * time.Hour, testNow.Add(48 * time.Hour), ""},
		{"negative TTL", "cluster.local", ECDSAP256, -time.Hour, time.Time{}, "new root CA: TTL -1h0m0s is negative"},
		{"bad trust domain", "Cluster", ECDSAP256, 0, time.Time{}, "new root CA: trust domain \"Cluster\""},
		{"bad algorithm", "cluster.local", "RSA1024", 0, time.Time{}, `key algorithm "RSA1024" is not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kp, err := NewRoot(tt.td, tt.alg, tt.ttl, testNow)
			wantErrContains(t, err, tt.wantErr)
			if err != nil {
				return
			}
			c := kp.Cert
			if !c.IsCA || !c.BasicConstraintsValid {
				t.Error("root is not a CA")
			}
			if want := x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature; c.KeyUsage != want {
				t.Errorf("KeyUsage = %v, want %v", c.KeyUsage, want)
			}
			if c.Subject.CommonName != "Loom root CA" || len(c.Subject.Organization) != 1 || c.Subject.Organization[0] != tt.td {
				t.Errorf("subject = %q", c.Subject)
			}
			if !c.NotBefore.Equal(testNow.Add(-time.Minute)) || !c.NotAfter.Equal(tt.wantNotAfter) {
				t.Errorf("validity %s .. %s, want %s .. %s", c.NotBefore, c.NotAfter, testNow.Add(-time.Minute), tt.wantNotAfter)
			}
			if c.SerialNumber.BitLen() < 64 {
				t.Errorf("serial %x looks too short for 128 random bits", c.SerialNumber)
			}
			if err := c.CheckSignatureFrom(c); err != nil {
				t.Errorf("not self-signed: %v", err)
			}
			if _, err := ParseKeyPair(kp.CertPEM, kp.KeyPEM); err != nil {
				t.Errorf("PEM forms do not parse back: %v", err)
			}
		})
	}
}

func TestNewIntermediate(t *testing.T) {
	ca := ecdsaCA(t)
	shortRoot := mustRoot(t, 30*24*time.Hour, testNow)
	expiredRoot := mustRoot(t, time.Hour, testNow.Add(-2*time.Hour))
	leafLike := ca.inter // path length 0: may not sign CAs
	tests := []struct {
		name         string
		parent       *KeyPair
		ttl          time.Duration
		wantNotAfter time.Time
		wantErr      string
	}{
		{"default TTL", ca.root, 0, testNow.Add(DefaultIntermediateTTL), ""},
		{"explicit TTL", ca.root, 72 * time.Hour, testNow.Add(72 * time.Hour), ""},
		{"clamped to parent", shortRoot, 0, shortRoot.Cert.NotAfter, ""},
		{"nil parent", nil, 0, time.Time{}, "parent key pair is missing"},
		{"expired parent", expiredRoot, 0, time.Time{}, "expired at " + expiredRoot.Cert.NotAfter.Format(time.RFC3339)},
		{"negative TTL", ca.root, -time.Second, time.Time{}, "TTL -1s is negative"},
		{"parent with path length 0", leafLike, 0, time.Time{}, "has path length 0 and may not sign CAs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kp, err := NewIntermediate(tt.parent, "cluster.local", ECDSAP256, tt.ttl, testNow)
			wantErrContains(t, err, tt.wantErr)
			if err != nil {
				return
			}
			c := kp.Cert
			if !c.IsCA || c.MaxPathLen != 0 || !c.MaxPathLenZero {
				t.Errorf("IsCA=%v MaxPathLen=%d MaxPathLenZero=%v", c.IsCA, c.MaxPathLen, c.MaxPathLenZero)
			}
			if !c.NotAfter.Equal(tt.wantNotAfter) {
				t.Errorf("NotAfter = %s, want %s", c.NotAfter, tt.wantNotAfter)
			}
			if c.Subject.CommonName != "Loom intermediate CA" {
				t.Errorf("subject = %q", c.Subject)
			}
			if err := verifyAt(c, tt.parent.Cert, testNow); err != nil {
				t.Errorf("does not verify to parent: %v", err)
			}
		})
	}
}

func verifyAt(c, root *x509.Certificate, now time.Time) error {
	opts := x509.VerifyOptions{Roots: x509.NewCertPool(), CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	opts.Roots.AddCert(root)
	_, err := c.Verify(opts)
	return err
}
