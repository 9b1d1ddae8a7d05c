package ca

import (
	"bytes"
	"slices"
	"testing"
)

func FuzzParseCSR(f *testing.F) {
	f.Add(csrPEM(f, mustKey(f, ECDSAP256), []string{testID.String()}, nil))
	f.Add(csrPEM(f, mustKey(f, RSA2048), nil, []string{"a.example"}))
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		csr, err := ParseCSR(data)
		if err != nil {
			if csr != nil {
				t.Fatal("CSR returned with an error")
			}
			return
		}
		if checkPublicKey(csr.PublicKey) != nil || csr.CheckSignature() != nil {
			t.Fatal("accepted a CSR with a refused key or a bad signature")
		}
		_ = CheckRequestedIdentity(csr, testID)
	})
}

func FuzzLoadPlugged(f *testing.F) {
	ca := ecdsaCA(f)
	for _, d := range []map[string][]byte{loomCACerts(f, ca), opensslCACerts(f)} {
		f.Add(d[CACertKey], d[CAKeyKey], d[RootCertKey], d[CertChainKey])
	}
	f.Add(ca.root.CertPEM, ca.root.KeyPEM, ca.root.CertPEM, ca.root.CertPEM)
	csr, err := ParseCSR(csrPEM(f, mustKey(f, ECDSAP256), nil, nil))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, cert, key, root, chain []byte) {
		data := map[string][]byte{CACertKey: cert, CAKeyKey: key, RootCertKey: root, CertChainKey: chain}
		s, err := LoadPlugged(data, testNow)
		if err != nil {
			if _, ok := err.(*KeyError); !ok {
				t.Fatalf("error %v is a %T, not a *KeyError", err, err)
			}
			return
		}
		served := s.Chain()
		if len(served) == 0 || !bytes.Equal(served[0], encodeCertPEM(s.SigningCert())) {
			t.Fatal("served chain does not start with ca-cert.pem")
		}
		if !slices.ContainsFunc(s.Roots(), func(r []byte) bool { return bytes.Equal(r, served[len(served)-1]) }) {
			t.Fatal("served chain does not end with a root of root-cert.pem")
		}
		leafChain, err := s.Sign(csr, testID, 0, testNow)
		if err != nil {
			t.Fatalf("loaded signer cannot sign: %v", err)
		}
		verifyChain(t, leafChain, s.Roots(), testNow)
		for i := range served {
			for j := i + 1; j < len(served); j++ {
				if bytes.Equal(served[i], served[j]) {
					t.Fatal("served chain holds a duplicate")
				}
			}
		}
	})
}
