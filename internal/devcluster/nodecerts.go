package devcluster

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// nodeCerts are the certificates a cluster with a real node needs beyond envtest's: a serving
// certificate for kube-apiserver that pods accept when they reach it through the `kubernetes`
// Service, and a client certificate with which kube-apiserver reaches the kubelet (for logs,
// exec and port-forward).
type nodeCerts struct {
	CAFile                                      string
	ServingCertFile, ServingKeyFile             string
	KubeletClientCertFile, KubeletClientKeyFile string
	caPEM                                       []byte
}

// writeNodeCerts creates a CA and the certificates in dir. The serving certificate is written
// under the names envtest looks for, so that envtest serves it instead of generating its own.
func writeNodeCerts(dir string, apiserverIPs []net.IP) (*nodeCerts, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTemplate := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "loom-dev-cluster-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, caCert, err := sign(caTemplate, caTemplate, caKey.Public(), caKey)
	if err != nil {
		return nil, err
	}
	certs := &nodeCerts{
		CAFile:                filepath.Join(dir, "node-ca.crt"),
		ServingCertFile:       filepath.Join(dir, "apiserver.crt"),
		ServingKeyFile:        filepath.Join(dir, "apiserver.key"),
		KubeletClientCertFile: filepath.Join(dir, "apiserver-kubelet-client.crt"),
		KubeletClientKeyFile:  filepath.Join(dir, "apiserver-kubelet-client.key"),
		caPEM:                 pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
	}
	if err := os.WriteFile(certs.CAFile, certs.caPEM, 0o644); err != nil {
		return nil, err
	}
	serving := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		IPAddresses: append([]net.IP{net.ParseIP("127.0.0.1"), net.ParseIP(kubernetesServiceIP)}, apiserverIPs...),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if err := issue(serving, caCert, caKey, now, certs.ServingCertFile, certs.ServingKeyFile); err != nil {
		return nil, err
	}
	client := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver-kubelet-client", Organization: []string{"system:masters"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if err := issue(client, caCert, caKey, now, certs.KubeletClientCertFile, certs.KubeletClientKeyFile); err != nil {
		return nil, err
	}
	if err := writeServiceAccountSigner(dir, now); err != nil {
		return nil, err
	}
	return certs, nil
}

// writeServiceAccountSigner writes the key that signs ServiceAccount tokens, under the names
// envtest passes to kube-apiserver; envtest writes none when the serving certificate exists.
func writeServiceAccountSigner(dir string, now time.Time) error {
	template := &x509.Certificate{Subject: pkix.Name{CommonName: "loom-dev-cluster-service-accounts"}, BasicConstraintsValid: true}
	return issue(template, nil, nil, now, filepath.Join(dir, "sa-signer.crt"), filepath.Join(dir, "sa-signer.key"))
}

// kubernetesServiceIP is the first address of envtest's service range.
const kubernetesServiceIP = "10.0.0.1"

// issue creates a key and a certificate for it, signed by ca (self-signed when ca is nil),
// and writes both.
func issue(template, ca *x509.Certificate, caKey crypto.Signer, now time.Time, certFile, keyFile string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	template.NotBefore, template.NotAfter = now.Add(-time.Hour), now.Add(7*24*time.Hour)
	template.KeyUsage = x509.KeyUsageDigitalSignature
	if ca == nil {
		ca, caKey = template, key
	}
	der, _, err := sign(template, ca, key.Public(), caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	return os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
}

func sign(template, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) ([]byte, *x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, nil, err
	}
	template.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, template, parent, pub, signer)
	if err != nil {
		return nil, nil, fmt.Errorf("signing %s: %w", template.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	return der, cert, err
}
