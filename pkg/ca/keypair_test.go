package ca

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"testing"
)

func TestParseKeyPair(t *testing.T) {
	ca := ecdsaCA(t)
	sec1, _ := x509.MarshalECPrivateKey(ca.inter.Key.(*ecdsa.PrivateKey))
	sec1PEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})
	tests := []struct {
		name          string
		cert, key     []byte
		wantErr       string
		wantSubjectCN string
	}{
		{"PKCS#8", ca.inter.CertPEM, ca.inter.KeyPEM, "", "Loom intermediate CA"},
		{"SEC1", ca.inter.CertPEM, sec1PEM, "", "Loom intermediate CA"},
		{"key of another cert", ca.inter.CertPEM, ca.root.KeyPEM, "key: does not match the certificate's public key", ""},
		{"cert not PEM", []byte("nope"), ca.inter.KeyPEM, "certificate: not PEM", ""},
		{"cert is a key", ca.inter.KeyPEM, ca.inter.KeyPEM, `certificate: not a certificate: PEM block 1 is "PRIVATE KEY"`, ""},
		{"two certs", append(append([]byte{}, ca.inter.CertPEM...), ca.root.CertPEM...), ca.inter.KeyPEM, "certificate: holds 2 certificates, want 1", ""},
		{"key not PEM", ca.inter.CertPEM, []byte("nope"), "key: not PEM", ""},
		{"key is a cert", ca.inter.CertPEM, ca.inter.CertPEM, `key: not a private key: PEM block is "CERTIFICATE"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kp, err := ParseKeyPair(tt.cert, tt.key)
			wantErrContains(t, err, tt.wantErr)
			if err == nil && (kp.Cert.Subject.CommonName != tt.wantSubjectCN || !kp.Cert.Equal(ca.inter.Cert)) {
				t.Fatalf("parsed %s, want the intermediate", certName(kp.Cert))
			}
		})
	}
}

func TestParseCertsPEMSkipsTextBetweenBlocks(t *testing.T) {
	ca := ecdsaCA(t)
	data := "Bag Attributes\n    friendlyName: x\n" + string(ca.inter.CertPEM) + "subject=...\n" + string(ca.root.CertPEM)
	certs, err := parseCertsPEM([]byte(data))
	if err != nil || len(certs) != 2 || !certs[1].Equal(ca.root.Cert) {
		t.Fatalf("got %d certs, %v", len(certs), err)
	}
}
