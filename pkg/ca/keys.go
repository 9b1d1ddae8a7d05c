package ca

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
)

// KeyAlgorithm names the kind of private key a CA or workload uses.
type KeyAlgorithm string

const (
	RSA2048   KeyAlgorithm = "RSA2048"
	ECDSAP256 KeyAlgorithm = "ECDSA_P256"
)

// GenerateKey creates a new private key of the given algorithm.
func GenerateKey(alg KeyAlgorithm) (crypto.Signer, error) {
	switch alg {
	case RSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, fmt.Errorf("key algorithm %q is not supported (want %q or %q)", alg, RSA2048, ECDSAP256)
	}
}

// encodeKeyPEM returns the key as a PKCS#8 "PRIVATE KEY" PEM block.
func encodeKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// parseKeyPEM reads the first PEM block of data as a PKCS#1, PKCS#8 or SEC1
// private key. Its errors are phrased as problems of the key itself.
func parseKeyPEM(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("not PEM")
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("not a private key: PEM block is %q", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("not a private key: %v", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("private key type %T cannot sign", key)
	}
	return signer, nil
}

// samePublicKey reports whether two public keys are equal.
func samePublicKey(a, b crypto.PublicKey) bool {
	ak, err := x509.MarshalPKIXPublicKey(a)
	if err != nil {
		return false
	}
	bk, err := x509.MarshalPKIXPublicKey(b)
	if err != nil {
		return false
	}
	return bytes.Equal(ak, bk)
}

// checkPublicKey accepts the workload key types Loom signs for: RSA 2048 to
// 8192 bits, ECDSA P-256 or P-384, and Ed25519.
func checkPublicKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N == nil {
			return errors.New("RSA public key has no modulus")
		}
		if bits := k.N.BitLen(); bits < 2048 || bits > 8192 {
			return fmt.Errorf("RSA key of %d bits is not allowed (want 2048 to 8192)", bits)
		}
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return fmt.Errorf("ECDSA curve %s is not allowed (want P-256 or P-384)", curveName(k.Curve))
		}
	case ed25519.PublicKey:
	default:
		return fmt.Errorf("public key type %T is not allowed (want RSA, ECDSA or Ed25519)", pub)
	}
	return nil
}

func curveName(c elliptic.Curve) string {
	if c == nil || c.Params() == nil {
		return "<unknown>"
	}
	return c.Params().Name
}

// randomSerial returns a random positive 128-bit serial number.
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("generating serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}
