package translate

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	xdscreds "google.golang.org/grpc/credentials/xds"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/xds"
	security "istio.io/api/security/v1beta1"

	"loom.dev/loom/pkg/model"
)

// testCA issues workload certificates the way the mesh CA does: one root,
// leaves with a single SPIFFE URI SAN.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{Organization: []string{"test mesh"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue writes a certificate for spiffeID, its key and the root into a new
// directory, as `loom agent` does for the file_watcher provider, and
// returns the directory.
func (ca *testCA) issue(t *testing.T, spiffeID string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	uri, _ := url.Parse(spiffeID)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		URIs: []*url.URL{uri}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"cert-chain.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"key.pem":        pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		"root-cert.pem":  ca.pem,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// mtlsBootstrap is xs's bootstrap with the file_watcher certificate
// provider "default" over the files in dir.
func mtlsBootstrap(t *testing.T, xs *xdsServer, node, dir string) []byte {
	t.Helper()
	var b map[string]any
	if err := json.Unmarshal(xs.bootstrap(node), &b); err != nil {
		t.Fatal(err)
	}
	b["certificate_providers"] = map[string]any{certProviderInstance: map[string]any{
		"plugin_name": "file_watcher",
		"config": map[string]any{
			"certificate_file":    filepath.Join(dir, "cert-chain.pem"),
			"private_key_file":    filepath.Join(dir, "key.pem"),
			"ca_certificate_file": filepath.Join(dir, "root-cert.pem"),
			"refresh_interval":    "1s",
		},
	}}
	out, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// peerBackend answers with the URI SAN of the client's certificate, or
// "plaintext".
type peerBackend struct {
	testpb.UnimplementedTestServiceServer
}

func (peerBackend) UnaryCall(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	p, _ := peer.FromContext(ctx)
	if info, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(info.State.PeerCertificates) > 0 && len(info.State.PeerCertificates[0].URIs) > 0 {
		return &testpb.SimpleResponse{Hostname: info.State.PeerCertificates[0].URIs[0].String()}, nil
	}
	return &testpb.SimpleResponse{Hostname: "plaintext"}, nil
}

// startMTLSBackend starts an xDS gRPC server with xDS credentials on addr
// and waits until its listener arrived.
func startMTLSBackend(t *testing.T, bootstrap []byte, addr string) {
	t.Helper()
	creds, err := xdscreds.NewServerCredentials(xdscreds.ServerOptions{FallbackCreds: insecure.NewCredentials()})
	if err != nil {
		t.Fatal(err)
	}
	serving := make(chan struct{})
	var once sync.Once
	srv, err := xds.NewGRPCServer(grpc.Creds(creds), xds.BootstrapContentsForTesting(bootstrap),
		xds.ServingModeCallback(func(_ net.Addr, args xds.ServingModeChangeArgs) {
			if args.Mode == 1 { // connectivity.ServingModeServing
				once.Do(func() { close(serving) })
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	testpb.RegisterTestServiceServer(srv, peerBackend{})
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	select {
	case <-serving:
	case <-time.After(10 * time.Second):
		t.Fatal("the backend never received its server listener")
	}
}

// dialEchoXDS dials xds:///echo:7070 as node, with xDS credentials from the certificates
// in dir (through the bootstrap's file_watcher provider), until the test ends.
func dialEchoXDS(t *testing.T, xs *xdsServer, node, dir string) *grpc.ClientConn {
	t.Helper()
	resolver, err := xds.NewXDSResolverWithConfigForTesting(mtlsBootstrap(t, xs, node, dir))
	if err != nil {
		t.Fatal(err)
	}
	creds, err := xdscreds.NewClientCredentials(xdscreds.ClientOptions{FallbackCreds: insecure.NewCredentials()})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient("xds:///echo:7070", grpc.WithResolvers(resolver), grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func mtlsCall(t *testing.T, conn *grpc.ClientConn, waitForReady bool) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := testpb.NewTestServiceClient(conn).UnaryCall(ctx, &testpb.SimpleRequest{}, grpc.WaitForReady(waitForReady))
	return resp.GetHostname(), err
}

// A STRICT PeerAuthentication makes a proxyless gRPC server refuse
// plaintext; a proxyless client reaches it with auto mTLS (its endpoint
// runs in the mesh) using certificates from the file_watcher provider, and
// the server sees the client's SPIFFE id; a client told to expect another
// identity (DestinationRule subjectAltNames) refuses the server.
func TestGRPCGoEnforcesStrictMTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gRPC servers")
	}
	ca := newTestCA(t)
	xs := startXDSServer(t)
	const serverID, clientID, wrongSANClientID = "echo-1", "client-1", "client-2"
	serverSA := model.SpiffeID(model.DefaultTrustDomain, "default", "echo")
	clientSA := model.SpiffeID(model.DefaultTrustDomain, "default", "client")

	echo, strict, port := strictMeshedEcho(t)
	snap := model.Build(model.Input{Services: []*model.Service{echo}, PeerAuthentications: []*model.PeerAuthentication{strict}})
	xs.serve(t, snap, model.Proxy{ID: serverID, Kind: model.KindGRPC, Namespace: "default", IPs: []string{"127.0.0.1"}, Labels: map[string]string{"app": "echo"}})
	xs.serve(t, snap, model.Proxy{ID: clientID, Kind: model.KindGRPC, Namespace: "default"})
	xs.serve(t, model.Build(model.Input{Services: []*model.Service{echo}, PeerAuthentications: []*model.PeerAuthentication{strict},
		DestinationRules: []*model.DestinationRule{mkDR(t, "default", "echo", `{host: echo, trafficPolicy: {tls: {mode: ISTIO_MUTUAL, subjectAltNames: ["spiffe://cluster.local/ns/default/sa/other"]}}}`)},
	}), model.Proxy{ID: wrongSANClientID, Kind: model.KindGRPC, Namespace: "default"})

	serverBootstrap := mtlsBootstrap(t, xs, serverID, ca.issue(t, serverSA))
	startMTLSBackend(t, serverBootstrap, "127.0.0.1:"+strconv.Itoa(int(port)))

	t.Run("plaintext client refused", func(t *testing.T) {
		conn, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(int(port)), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close() }()
		if got, err := mtlsCall(t, conn, false); status.Code(err) != codes.Unavailable {
			t.Errorf("plaintext call answered %q, %v; want Unavailable", got, err)
		}
	})

	t.Run("auto mTLS client accepted", func(t *testing.T) {
		got, err := mtlsCall(t, dialEchoXDS(t, xs, clientID, ca.issue(t, clientSA)), true)
		if err != nil {
			t.Fatalf("mTLS call: %v", err)
		}
		if got != clientSA {
			t.Errorf("server saw client %q, want %q", got, clientSA)
		}
	})
	t.Run("client expecting another identity refuses the server", func(t *testing.T) {
		if got, err := mtlsCall(t, dialEchoXDS(t, xs, wrongSANClientID, ca.issue(t, clientSA)), false); err == nil {
			t.Errorf("call answered %q despite the SAN mismatch", got)
		}
	})
	t.Run("client of another CA refused", func(t *testing.T) {
		other := newTestCA(t)
		dir := other.issue(t, clientSA)
		// It trusts the real root, so only the server's check can fail.
		if err := os.WriteFile(filepath.Join(dir, "root-cert.pem"), ca.pem, 0o600); err != nil {
			t.Fatal(err)
		}
		if got, err := mtlsCall(t, dialEchoXDS(t, xs, clientID, dir), false); err == nil {
			t.Errorf("call answered %q with a certificate of another CA", got)
		}
	})
	xs.checkNoNACK(t)
}

// Auto mTLS follows the destination's mode as a real gRPC-Go pair sees
// it: with DISABLE the client sends plaintext (mTLS would fail against the
// plaintext server); with PERMISSIVE and a server labelled
// security.istio.io/tlsMode=istio the server requires mTLS (Istio's
// grpcgen) and the client sends it.
func TestGRPCGoAutoMTLSFollowsDestinationMode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gRPC servers")
	}
	clientSA := model.SpiffeID(model.DefaultTrustDomain, "default", "client")
	for _, tc := range []struct {
		name          string
		mode          security.PeerAuthentication_MutualTLS_Mode
		wantPeer      string
		plaintextGets codes.Code
	}{
		{"DISABLE", security.PeerAuthentication_MutualTLS_DISABLE, "plaintext", codes.OK},
		{"PERMISSIVE", security.PeerAuthentication_MutualTLS_PERMISSIVE, clientSA, codes.Unavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ca := newTestCA(t)
			xs := startXDSServer(t)
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			port := uint32(lis.Addr().(*net.TCPAddr).Port)
			_ = lis.Close()
			echo := mkService("echo", "default", mkPorts("grpc:7070"))
			ep := mkEndpoint("127.0.0.1", "app=echo", model.TLSModeLabel+"="+model.TLSModeIstio)
			ep.Ports, ep.ServiceAccount = map[string]uint32{"grpc": port}, "echo"
			echo.Endpoints = []*model.Endpoint{ep}
			policy := &model.PeerAuthentication{Meta: mkMeta("default", "default"), Spec: &security.PeerAuthentication{
				Mtls: &security.PeerAuthentication_MutualTLS{Mode: tc.mode},
			}}
			snap := model.Build(model.Input{Services: []*model.Service{echo}, PeerAuthentications: []*model.PeerAuthentication{policy}})
			server := model.Proxy{ID: "echo-1", Kind: model.KindGRPC, Namespace: "default", IPs: []string{"127.0.0.1"},
				Labels: map[string]string{"app": "echo", model.TLSModeLabel: model.TLSModeIstio}}
			xs.serveReporting(t, snap, server) // PERMISSIVE is reported on the policy
			xs.serve(t, snap, model.Proxy{ID: "client-1", Kind: model.KindGRPC, Namespace: "default"})
			startMTLSBackend(t, mtlsBootstrap(t, xs, server.ID, ca.issue(t, model.SpiffeID(model.DefaultTrustDomain, "default", "echo"))),
				"127.0.0.1:"+strconv.Itoa(int(port)))

			conn := dialEchoXDS(t, xs, "client-1", ca.issue(t, clientSA))
			if got, err := mtlsCall(t, conn, true); err != nil || got != tc.wantPeer {
				t.Errorf("auto mTLS call: server saw %q, %v; want %q", got, err, tc.wantPeer)
			}
			plain, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(int(port)), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = plain.Close() }()
			if _, err := mtlsCall(t, plain, false); status.Code(err) != tc.plaintextGets {
				t.Errorf("plaintext call: %v, want %v", err, tc.plaintextGets)
			}
			xs.checkNoNACK(t)
		})
	}
}

// strictMeshedEcho is Service echo in namespace default with one meshed endpoint (service
// account echo) on 127.0.0.1 and a free port, and a namespace-wide STRICT
// PeerAuthentication. The server asks for the listener of the address it binds, so the port
// is picked first and given to the model.
func strictMeshedEcho(t *testing.T) (*model.Service, *model.PeerAuthentication, uint32) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := uint32(lis.Addr().(*net.TCPAddr).Port)
	_ = lis.Close()

	echo := mkService("echo", "default", mkPorts("grpc:7070"))
	ep := mkEndpoint("127.0.0.1", "app=echo", model.TLSModeLabel+"="+model.TLSModeIstio)
	ep.Ports = map[string]uint32{"grpc": port}
	ep.ServiceAccount = "echo"
	echo.Endpoints = []*model.Endpoint{ep}
	strict := &model.PeerAuthentication{Meta: mkMeta("default", "default"), Spec: &security.PeerAuthentication{
		Mtls: &security.PeerAuthentication_MutualTLS{Mode: security.PeerAuthentication_MutualTLS_STRICT},
	}}
	return echo, strict, port
}
