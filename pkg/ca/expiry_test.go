package ca

import (
	"crypto/x509"
	"testing"
	"time"
)

func TestExpiries(t *testing.T) {
	ca := ecdsaCA(t)
	old := mustRoot(t, 20*24*time.Hour, testNow)
	s, err := NewSigner(ca.inter, [][]byte{ca.root.CertPEM}, [][]byte{ca.root.CertPEM, old.CertPEM}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	got := s.Expiries()
	want := []CertExpiry{
		{"signing", certName(ca.inter.Cert), ca.inter.Cert.NotAfter},
		{"root", certName(ca.root.Cert), ca.root.Cert.NotAfter},
		{"root", certName(old.Cert), old.Cert.NotAfter},
	}
	if len(got) != len(want) {
		t.Fatalf("Expiries() = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Expiries()[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	expiring := Expiring(got, testNow, DefaultExpiryWindow)
	if len(expiring) != 1 || expiring[0].Name != certName(old.Cert) {
		t.Fatalf("Expiring = %v, want only the 20-day root", expiring)
	}

	mid := craft(t, ca.root, func(c *x509.Certificate) { c.MaxPathLen = 1 })
	deep := mustIntermediate(t, mid, 0, testNow)
	s2, err := NewSigner(deep, [][]byte{mid.CertPEM}, [][]byte{ca.root.CertPEM}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if roles := rolesOf(s2.Expiries()); roles != "signing,intermediate,root" {
		t.Fatalf("roles = %s", roles)
	}
	self, err := NewSigner(ca.root, nil, [][]byte{ca.root.CertPEM}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if roles := rolesOf(self.Expiries()); roles != "root" {
		t.Fatalf("self-signed roles = %s", roles)
	}
}

func rolesOf(list []CertExpiry) string {
	var s string
	for i, e := range list {
		if i > 0 {
			s += ","
		}
		s += e.Role
	}
	return s
}

func TestExpiring(t *testing.T) {
	day := 24 * time.Hour
	certs := []CertExpiry{
		{Role: "root", Name: "far", NotAfter: testNow.Add(365 * day)},
		{Role: "signing", Name: "edge", NotAfter: testNow.Add(30 * day)},
		{Role: "intermediate", Name: "just-out", NotAfter: testNow.Add(30*day + time.Second)},
		{Role: "root", Name: "expired", NotAfter: testNow.Add(-day)},
	}
	tests := []struct {
		name   string
		window time.Duration
		want   string
	}{
		{"30 days", DefaultExpiryWindow, "edge,expired"},
		{"no window", 0, "expired"},
		{"a year", 365 * day, "far,edge,just-out,expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var names string
			for i, c := range Expiring(certs, testNow, tt.window) {
				if i > 0 {
					names += ","
				}
				names += c.Name
			}
			if names != tt.want {
				t.Fatalf("Expiring = %s, want %s", names, tt.want)
			}
		})
	}
	if Expiring(nil, testNow, DefaultExpiryWindow) != nil {
		t.Fatal("Expiring(nil) is not empty")
	}
}
