package ca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/url"
	"strings"
	"testing"
)

func TestParseCSR(t *testing.T) {
	key := mustKey(t, ECDSAP256)
	good := csrPEM(t, key, []string{testID.String()}, nil)
	block, _ := pem.Decode(good)
	tampered := bytes.Clone(block.Bytes)
	tampered[len(tampered)-1] ^= 0xff // last byte of the signature
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	encode := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }

	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"valid", good, ""},
		{"valid RSA 2048", csrPEM(t, mustKey(t, RSA2048), nil, nil), ""},
		{"legacy NEW CERTIFICATE REQUEST label", encode("NEW CERTIFICATE REQUEST", block.Bytes), ""},
		{"trailing newline", append(bytes.Clone(good), '\n', '\n'), ""},
		{"empty", nil, "CSR: not PEM"},
		{"garbage", []byte("-----BEGIN nothing"), "CSR: not PEM"},
		{"too large", bytes.Repeat([]byte("a"), MaxCSRSize+1), "exceeds the limit of 65536"},
		{"certificate block", ecdsaCA(t).root.CertPEM, `CSR: PEM block is "CERTIFICATE", want "CERTIFICATE REQUEST"`},
		{"two CSRs", cat(good, good), "CSR: holds more than one PEM block"},
		{"bad DER", encode("CERTIFICATE REQUEST", []byte{0x30, 0x03, 1, 2, 3}), "CSR: not a certificate request: asn1:"},
		{"bad signature", encode("CERTIFICATE REQUEST", tampered), "CSR: signature:"},
		{"RSA 1024", csrPEM(t, rsa1024, nil, nil), "CSR: RSA key of 1024 bits is not allowed"},
		{"P-224", csrPEM(t, p224, nil, nil), "CSR: ECDSA curve P-224 is not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			csr, err := ParseCSR(tt.data)
			wantErrContains(t, err, tt.wantErr)
			if err == nil && csr.PublicKey == nil {
				t.Fatal("no public key")
			}
		})
	}
}

func TestCheckRequestedIdentity(t *testing.T) {
	u := func(s string) *url.URL {
		parsed, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return parsed
	}
	caller := testID.String()
	tests := []struct {
		name    string
		csr     *x509.CertificateRequest
		wantErr string
	}{
		{"no SAN", &x509.CertificateRequest{}, ""},
		{"own identity", &x509.CertificateRequest{URIs: []*url.URL{u(caller)}}, ""},
		{"nil", nil, "CSR is missing"},
		{"other namespace", &x509.CertificateRequest{URIs: []*url.URL{u("spiffe://cluster.local/ns/bank/sa/cart")}}, `CSR asks for "spiffe://cluster.local/ns/bank/sa/cart"; the caller is ` + caller},
		{"other service account", &x509.CertificateRequest{URIs: []*url.URL{u("spiffe://cluster.local/ns/shop/sa/admin")}}, `CSR asks for "spiffe://cluster.local/ns/shop/sa/admin"; the caller is ` + caller},
		{"other trust domain", &x509.CertificateRequest{URIs: []*url.URL{u("spiffe://evil.org/ns/shop/sa/cart")}}, `CSR asks for "spiffe://evil.org/ns/shop/sa/cart"`},
		{"own and another", &x509.CertificateRequest{URIs: []*url.URL{u(caller), u("spiffe://cluster.local/ns/a/sa/b")}}, "CSR asks for 2 URIs"},
		{"own twice", &x509.CertificateRequest{URIs: []*url.URL{u(caller), u(caller)}}, "CSR asks for 2 URIs"},
		{"https URI", &x509.CertificateRequest{URIs: []*url.URL{u("https://cluster.local/ns/shop/sa/cart")}}, `CSR asks for "https://cluster.local/ns/shop/sa/cart"`},
		{"DNS name", &x509.CertificateRequest{URIs: []*url.URL{u(caller)}, DNSNames: []string{"cart.shop.svc"}}, `CSR asks for DNS names ["cart.shop.svc"]; the caller is ` + caller},
		{"email", &x509.CertificateRequest{EmailAddresses: []string{"a@b.c"}}, `CSR asks for email addresses ["a@b.c"]`},
		{"IP", &x509.CertificateRequest{IPAddresses: []net.IP{net.ParseIP("10.0.0.1")}}, "CSR asks for IP addresses [10.0.0.1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckRequestedIdentity(tt.csr, testID)
			wantErrContains(t, err, tt.wantErr)
			if err != nil && tt.csr != nil && !strings.Contains(err.Error(), caller) {
				t.Fatalf("error %q does not name the caller", err)
			}
		})
	}
}
