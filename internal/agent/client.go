package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	pb "istio.io/api/security/v1alpha1"
)

// caClient calls Istio's certificate signing API,
// istio.v1.auth.IstioCertificateService/CreateCertificate.
type caClient struct {
	address    string
	rootFile   string
	serverName string
	tokenFile  string
	clusterID  string
	timeout    time.Duration
	// bundle is the mesh's trust bundle as the agent last received it (PEM; nil before):
	// trusted beside rootFile, so that a CA serving certificate of a rotated root verifies
	// before the kubelet refreshes the mounted root file.
	bundle atomic.Pointer[[]byte]
}

func (c *caClient) trust(bundle []byte) { c.bundle.Store(&bundle) }

// sign sends csrPEM and returns the CA's cert_chain. The root file and the
// token are read for every call, so rotations of either need no restart.
func (c *caClient) sign(ctx context.Context, csrPEM []byte, ttl time.Duration) ([]string, error) {
	token, err := readToken(c.tokenFile)
	if err != nil {
		return nil, err
	}
	creds, err := c.transportCredentials()
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(c.address, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, fmt.Errorf("CA %s (--ca-address): %w", c.address, err)
	}
	defer func() { _ = conn.Close() }()

	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token, "ClusterID", c.clusterID)
	resp, err := pb.NewIstioCertificateServiceClient(conn).CreateCertificate(ctx, &pb.IstioCertificateRequest{
		Csr:              string(csrPEM),
		ValidityDuration: int64(ttl / time.Second),
	})
	if err != nil {
		return nil, fmt.Errorf("CA %s: CreateCertificate: %w", c.address, err)
	}
	return resp.GetCertChain(), nil
}

func (c *caClient) transportCredentials() (credentials.TransportCredentials, error) {
	data, err := os.ReadFile(c.rootFile)
	if err != nil {
		return nil, fmt.Errorf("CA root file (--ca-root-file): %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("CA root file %s (--ca-root-file): no PEM certificate", c.rootFile)
	}
	if b := c.bundle.Load(); b != nil {
		roots.AppendCertsFromPEM(*b)
	}
	return credentials.NewTLS(&tls.Config{RootCAs: roots, ServerName: c.serverName, MinVersion: tls.VersionTLS12}), nil
}

// readToken returns the bearer token in path; the error never holds it.
func readToken(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("token file (--token-file): %w", err)
	}
	token := strings.TrimSpace(string(data))
	if token == "" {
		return "", fmt.Errorf("token file %s (--token-file) is empty", path)
	}
	return token, nil
}

// dialDiscovery opens a connection to the discovery server (the CA's address, over TLS)
// and returns the context that authenticates a stream on it with the pod's token, read now.
func (c *caClient) dialDiscovery(ctx context.Context) (context.Context, *grpc.ClientConn, error) {
	token, err := readToken(c.tokenFile)
	if err != nil {
		return nil, nil, status.Error(codes.Unavailable, err.Error())
	}
	creds, err := c.transportCredentials()
	if err != nil {
		return nil, nil, status.Error(codes.Unavailable, err.Error())
	}
	conn, err := grpc.NewClient(c.address, grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32)))
	if err != nil {
		return nil, nil, status.Errorf(codes.Unavailable, "discovery server %s (--ca-address): %v", c.address, err)
	}
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token, "ClusterID", c.clusterID)
	return ctx, conn, nil
}
