package ca

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"testing"
)

func TestGenerateKey(t *testing.T) {
	tests := []struct {
		alg     KeyAlgorithm
		check   func(any) bool
		wantErr string
	}{
		{RSA2048, func(k any) bool { r, ok := k.(*rsa.PrivateKey); return ok && r.N.BitLen() == 2048 }, ""},
		{ECDSAP256, func(k any) bool { e, ok := k.(*ecdsa.PrivateKey); return ok && e.Curve == elliptic.P256() }, ""},
		{"DSA", nil, `key algorithm "DSA" is not supported`},
		{"", nil, `key algorithm "" is not supported`},
	}
	for _, tt := range tests {
		t.Run(string(tt.alg), func(t *testing.T) {
			k, err := GenerateKey(tt.alg)
			wantErrContains(t, err, tt.wantErr)
			if tt.check != nil && !tt.check(k) {
				t.Fatalf("GenerateKey(%s) gave %T", tt.alg, k)
			}
		})
	}
}

func TestParseKeyPEM(t *testing.T) {
	ec := mustKey(t, ECDSAP256).(*ecdsa.PrivateKey)
	rsaKey := mustKey(t, RSA2048).(*rsa.PrivateKey)
	sec1, _ := x509.MarshalECPrivateKey(ec)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(ec)
	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"PKCS#1", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}), ""},
		{"SEC1", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}), ""},
		{"PKCS#8", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), ""},
		{"empty", nil, "not PEM"},
		{"garbage", []byte("hello"), "not PEM"},
		{"certificate block", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), `not a private key: PEM block is "CERTIFICATE"`},
		{"bad DER", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}), "not a private key:"},
		{"PKCS#1 label with SEC1 body", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: sec1}), "not a private key:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseKeyPEM(tt.data)
			wantErrContains(t, err, tt.wantErr)
		})
	}
}

func TestCheckPublicKey(t *testing.T) {
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	tests := []struct {
		name    string
		pub     any
		wantErr string
	}{
		{"RSA 2048", mustKey(t, RSA2048).Public(), ""},
		{"RSA 1024", rsa1024.Public(), "RSA key of 1024 bits is not allowed"},
		{"RSA 9000", &rsa.PublicKey{N: bigOfBits(9000), E: 65537}, "RSA key of 9000 bits is not allowed"},
		{"RSA nil modulus", &rsa.PublicKey{E: 65537}, "no modulus"},
		{"P-256", mustKey(t, ECDSAP256).Public(), ""},
		{"P-384", p384.Public(), ""},
		{"P-224", p224.Public(), "ECDSA curve P-224 is not allowed"},
		{"P-521", p521.Public(), "ECDSA curve P-521 is not allowed"},
		{"Ed25519", edPub, ""},
		{"string", "key", "public key type string is not allowed"},
		{"nil", nil, "public key type <nil> is not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErrContains(t, checkPublicKey(tt.pub), tt.wantErr)
		})
	}
}

func TestRandomSerialIsPositiveAndUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		n, err := randomSerial()
		if err != nil {
			t.Fatal(err)
		}
		if n.Sign() <= 0 || n.BitLen() > 128 {
			t.Fatalf("serial %v out of range", n)
		}
		if seen[n.String()] {
			t.Fatalf("serial %v repeated", n)
		}
		seen[n.String()] = true
	}
}
