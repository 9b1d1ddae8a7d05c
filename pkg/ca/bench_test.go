package ca

import "testing"

// BenchmarkSign measures one CSR request as the CA server handles it:
// parse the PEM CSR, check the requested identity, sign. The signer is an
// ECDSA P-256 intermediate; the CSR key is of the named algorithm.
func BenchmarkSign(b *testing.B) {
	s := mustSigner(b, ecdsaCA(b))
	for _, alg := range []KeyAlgorithm{RSA2048, ECDSAP256} {
		b.Run(string(alg), func(b *testing.B) {
			data := csrPEM(b, mustKey(b, alg), []string{testID.String()}, nil)
			for b.Loop() {
				csr, err := ParseCSR(data)
				if err != nil {
					b.Fatal(err)
				}
				if err := CheckRequestedIdentity(csr, testID); err != nil {
					b.Fatal(err)
				}
				if _, err := s.Sign(csr, testID, 0, testNow); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "signs/s")
		})
	}
}

func BenchmarkGenerateKey(b *testing.B) {
	for _, alg := range []KeyAlgorithm{RSA2048, ECDSAP256} {
		b.Run(string(alg), func(b *testing.B) {
			for b.Loop() {
				if _, err := GenerateKey(alg); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "keys/s")
		})
	}
}
