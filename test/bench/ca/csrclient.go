package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	pb "istio.io/api/security/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"loom.dev/loom/pkg/ca"
)

// rootConfigMap is where both CAs publish their trust bundle in every namespace.
const rootConfigMap = "istio-ca-root-cert"

// csrRequest is a ready CSR for one identity: what pilot-agent sends, minus the key
// generation, which the rate measurement leaves out (the fleet measurement has it).
type csrRequest struct {
	id     identity
	csrPEM string
}

// newCSRPool makes one CSR with a new key of alg for each identity.
func newCSRPool(ids []identity, alg ca.KeyAlgorithm) ([]csrRequest, error) {
	out := make([]csrRequest, len(ids))
	for i, id := range ids {
		key, err := ca.GenerateKey(alg)
		if err != nil {
			return nil, fmt.Errorf("%s key: %w", alg, err)
		}
		u, err := url.Parse(spiffeID(id.serviceAccount))
		if err != nil {
			return nil, err
		}
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{URIs: []*url.URL{u}}, key)
		if err != nil {
			return nil, fmt.Errorf("CSR for %s: %w", u, err)
		}
		out[i] = csrRequest{id: id, csrPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))}
	}
	return out, nil
}

// caTLS is how a client reaches one control plane's CA.
type caTLS struct {
	addr     string
	roots    *x509.CertPool
	rootPEM  []byte
	rootFile string
}

func (c *caTLS) dial() (*grpc.ClientConn, error) {
	creds := credentials.NewTLS(&tls.Config{RootCAs: c.roots, ServerName: caServerName, MinVersion: tls.VersionTLS12})
	conn, err := grpc.NewClient(c.addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, fmt.Errorf("CA %s: %w", c.addr, err)
	}
	return conn, nil
}

// createCertificate is one CSR request as pilot-agent makes it: the token as a bearer
// token and the cluster id as ClusterID metadata. The answer must be a chain whose leaf
// names the token's ServiceAccount.
func createCertificate(ctx context.Context, conn *grpc.ClientConn, r csrRequest) error {
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+r.id.token, "ClusterID", clusterID)
	resp, err := pb.NewIstioCertificateServiceClient(conn).CreateCertificate(ctx, &pb.IstioCertificateRequest{
		Csr: r.csrPEM, ValidityDuration: int64(24 * time.Hour / time.Second),
	})
	if err != nil {
		return err
	}
	chain := resp.GetCertChain()
	if len(chain) < 2 {
		return fmt.Errorf("cert_chain has %d entries, want leaf ... root", len(chain))
	}
	block, _ := pem.Decode([]byte(chain[0]))
	if block == nil {
		return errors.New("cert_chain[0] is not PEM")
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return fmt.Errorf("cert_chain[0]: %w", err)
	}
	if want := spiffeID(r.id.serviceAccount); len(leaf.URIs) != 1 || leaf.URIs[0].String() != want {
		return fmt.Errorf("leaf names %v, want %s", leaf.URIs, want)
	}
	return nil
}

// waitForCA waits until the trust bundle the control plane published in the benchmark
// namespace verifies its CA's serving certificate (the ConfigMap may still hold the
// previous control plane's root), writes it to dir/root-cert.pem, and then until the CA
// signs a certificate.
func waitForCA(ctx context.Context, cs kubernetes.Interface, addr, dir string, probe csrRequest, timeout time.Duration) (*caTLS, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		c, err := trustedCA(ctx, cs, addr)
		if err == nil {
			c.rootFile = filepath.Join(dir, "root-cert.pem")
			if err := os.WriteFile(c.rootFile, c.rootPEM, 0o644); err != nil {
				return nil, err
			}
			if err = probeCA(ctx, c, probe); err == nil {
				return c, nil
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("CA %s not serving within %s: %w", addr, timeout, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func rootsPEM(ctx context.Context, cs kubernetes.Interface) []byte {
	cm, err := cs.CoreV1().ConfigMaps(benchNamespace).Get(ctx, rootConfigMap, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	return []byte(cm.Data["root-cert.pem"])
}

func trustedCA(ctx context.Context, cs kubernetes.Interface, addr string) (*caTLS, error) {
	data := rootsPEM(ctx, cs)
	if len(data) == 0 {
		return nil, fmt.Errorf("configmap %s/%s: no root-cert.pem yet", benchNamespace, rootConfigMap)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("configmap %s/%s: root-cert.pem holds no certificate", benchNamespace, rootConfigMap)
	}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 2 * time.Second}, Config: &tls.Config{RootCAs: roots, ServerName: caServerName, NextProtos: []string{"h2"}}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("TLS to %s with the root in configmap %s/%s: %w", addr, benchNamespace, rootConfigMap, err)
	}
	_ = conn.Close()
	return &caTLS{addr: addr, roots: roots, rootPEM: data}, nil
}

func probeCA(ctx context.Context, c *caTLS, probe csrRequest) error {
	conn, err := c.dial()
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return createCertificate(ctx, conn, probe)
}
