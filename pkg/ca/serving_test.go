package ca

import (
	"crypto/x509"
	"testing"
	"time"
)

func TestSignServing(t *testing.T) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	root, err := NewRoot("cluster.local", ECDSAP256, 0, now)
	if err != nil {
		t.Fatal(err)
	}
	inter, err := NewIntermediate(root, "cluster.local", ECDSAP256, 0, now)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(inter, [][]byte{root.CertPEM}, [][]byte{root.CertPEM}, now)
	if err != nil {
		t.Fatal(err)
	}
	key, err := GenerateKey(ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := s.SignServing(key.Public(), []string{"istiod.mesh.svc"}, 24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		t.Fatal(err)
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root.Cert)
	for _, der := range chain[1:] {
		c, _ := x509.ParseCertificate(der)
		inters.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "istiod.mesh.svc", Roots: roots, Intermediates: inters, CurrentTime: now.Add(time.Hour)}); err != nil {
		t.Fatalf("serving certificate does not verify for its name: %v", err)
	}
	if len(leaf.URIs) != 0 {
		t.Fatalf("serving certificate carries URIs %v: it must not pass for a workload identity", leaf.URIs)
	}
	if _, err := s.SignServing(key.Public(), nil, time.Hour, now); err == nil {
		t.Fatal("no DNS names accepted")
	}
	if _, err := s.SignServing(key.Public(), []string{"x"}, time.Hour, inter.Cert.NotAfter.Add(time.Hour)); err == nil {
		t.Fatal("signed with an expired signing certificate")
	}
}
