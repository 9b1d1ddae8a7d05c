package agent

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	pb "istio.io/api/security/v1alpha1"
)

// testCA is a real IstioCertificateService over TLS that signs with
// crypto/x509, checks the bearer token and records every request.
type testCA struct {
	pb.UnimplementedIstioCertificateServiceServer
	rootKey  crypto.Signer
	root     *x509.Certificate
	rootPEM  string
	rootFile string // the PEM root that verifies the server
	addr     string
	creds    credentials.TransportCredentials
	server   *grpc.Server
	now      func() time.Time
	// ads, if set when the server (re)starts, serves ADS beside the CA, as Loom's
	// discovery server does on the CA's port.
	ads discoveryv3.AggregatedDiscoveryServiceServer

	mu       sync.Mutex
	token    string // the bearer token accepted
	wrongID  bool   // sign another identity than the CSR's
	wrongKey bool   // sign another key than the CSR's
	requests []caRequest
}

type caRequest struct {
	token, clusterID string
	csr              *x509.CertificateRequest
	ttl              time.Duration
}

// newTestCA starts a CA serving TLS for the name "ca.test"; its signing
// root also signs the server certificate.
func newTestCA(t *testing.T, now func() time.Time) *testCA {
	t.Helper()
	return newTestCAWithADS(t, now, nil)
}

// newTestCAWithADS is newTestCA also serving ads (when not nil) on the CA's port.
func newTestCAWithADS(t *testing.T, now func() time.Time, ads discoveryv3.AggregatedDiscoveryServiceServer) *testCA {
	t.Helper()
	ca := &testCA{now: now, token: "token-1", ads: ads}
	ca.rootKey, ca.root, ca.rootPEM = selfSigned(t, "test mesh root")
	ca.rootFile = filepath.Join(t.TempDir(), "root-cert.pem")
	if err := os.WriteFile(ca.rootFile, []byte(ca.rootPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	serverKey := newECKey(t)
	serverDER, err := ca.sign(&x509.Certificate{DNSNames: []string{"ca.test"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}},
		serverKey.Public(), time.Now().Add(-time.Hour), 10*365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ca.creds = credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{serverDER}, PrivateKey: serverKey}}})
	ca.addr = "127.0.0.1:0"
	ca.restart(t)
	return ca
}

// restart serves on ca.addr again after ca.server.Stop (at first on a free
// port).
func (ca *testCA) restart(t *testing.T) {
	t.Helper()
	lis, err := net.Listen("tcp", ca.addr)
	if err != nil {
		t.Fatal(err)
	}
	ca.addr = lis.Addr().String()
	ca.server = grpc.NewServer(grpc.Creds(ca.creds))
	pb.RegisterIstioCertificateServiceServer(ca.server, ca)
	if ca.ads != nil {
		discoveryv3.RegisterAggregatedDiscoveryServiceServer(ca.server, ca.ads)
	}
	server := ca.server
	go func() { _ = server.Serve(lis) }()
	t.Cleanup(server.Stop)
}

// CreateCertificate signs the CSR's key for the CSR's URI, as Loom's CA
// would for a token of that identity, returning leaf then root.
func (ca *testCA) CreateCertificate(ctx context.Context, req *pb.IstioCertificateRequest) (*pb.IstioCertificateResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	block, _ := pem.Decode([]byte(req.GetCsr()))
	if block == nil {
		return nil, status.Error(codes.InvalidArgument, "csr is not PEM")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil || csr.CheckSignature() != nil {
		return nil, status.Error(codes.InvalidArgument, "bad csr")
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	r := caRequest{csr: csr, ttl: time.Duration(req.GetValidityDuration()) * time.Second}
	if v := md.Get("authorization"); len(v) == 1 {
		r.token = v[0]
	}
	if v := md.Get("clusterid"); len(v) == 1 {
		r.clusterID = v[0]
	}
	ca.requests = append(ca.requests, r)
	if r.token != "Bearer "+ca.token {
		return nil, status.Error(codes.Unauthenticated, "bad token")
	}
	uris, pub := csr.URIs, csr.PublicKey
	if ca.wrongID {
		uris = []*url.URL{SPIFFEID("cluster.local", "other", "intruder")}
	}
	if ca.wrongKey {
		other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		pub = other.Public()
	}
	der, err := ca.sign(&x509.Certificate{URIs: uris, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}},
		pub, ca.now(), r.ttl)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &pb.IstioCertificateResponse{CertChain: []string{
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), ca.rootPEM,
	}}, nil
}

func (ca *testCA) sign(tmpl *x509.Certificate, pub crypto.PublicKey, notBefore time.Time, ttl time.Duration) ([]byte, error) {
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	tmpl.NotBefore, tmpl.NotAfter = notBefore, notBefore.Add(ttl)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	return x509.CreateCertificate(rand.Reader, tmpl, ca.root, pub, ca.rootKey)
}

func (ca *testCA) set(f func(*testCA)) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	f(ca)
}

func (ca *testCA) recorded() []caRequest {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	return append([]caRequest(nil), ca.requests...)
}

func selfSigned(t *testing.T, cn string) (crypto.Signer, *x509.Certificate, string) {
	key := newECKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func newECKey(t *testing.T) crypto.Signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}
