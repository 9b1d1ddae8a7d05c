package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"path/filepath"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	clocktesting "k8s.io/utils/clock/testing"
)

// TestAgentSDSServesSecretsAndPushesRotations plays Envoy: a raw SDS stream
// on the Unix socket asks for default and ROOTCA before the agent has a
// certificate, gets nothing until it has one, then both, ACKs, and gets a
// new version with a new key at half-life. Another stream, as Envoy opens
// one a secret, asks for ROOTCA only and gets only that.
func TestAgentSDSServesSecretsAndPushesRotations(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now().Truncate(time.Second))
	ca := newTestCA(t, clk.Now)
	ca.token = "not yet" // the first request fails
	logs := &logLines{}
	opts := testOptions(t, ca, clk, logs)
	opts.OutputDir = ""
	opts.SDSSocket = filepath.Join(t.TempDir(), "sds", "socket")
	startAgent(t, opts)

	var conn *grpc.ClientConn
	waitUntil(t, "the SDS socket", func() bool {
		var err error
		conn, err = grpc.NewClient("unix://"+opts.SDSSocket, grpc.WithTransportCredentials(insecure.NewCredentials()))
		return err == nil
	})
	defer func() { _ = conn.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := secretv3.NewSecretDiscoveryServiceClient(conn).StreamSecrets(ctx, grpc.WaitForReady(true))
	if err != nil {
		t.Fatal(err)
	}
	req := &discoveryv3.DiscoveryRequest{
		Node: &corev3.Node{Id: "sidecar~10.0.0.1~echo-1.demo~demo.svc.cluster.local"}, TypeUrl: resourcev3.SecretType,
		ResourceNames: []string{SecretWorkload, SecretRoot},
	}
	if err := stream.Send(req); err != nil {
		t.Fatal(err)
	}
	responses := receive(stream)
	waitUntil(t, "the first failure", func() bool { return logs.count("certificate request failed") == 1 })
	select {
	case r := <-responses:
		t.Fatalf("SDS answered before the agent had a certificate: %v", r)
	case <-time.After(300 * time.Millisecond):
	}
	waitAsleep(t, clk)
	ca.set(func(ca *testCA) { ca.token = "token-1" })
	clk.Step(time.Second)
	resp, first := nextSecrets(t, responses, SecretWorkload, SecretRoot)
	if got := string(first[SecretRoot].GetValidationContext().GetTrustedCa().GetInlineBytes()); got != ca.rootPEM {
		t.Errorf("ROOTCA trusted_ca is not the CA's root:\n%s", got)
	}
	firstPair := keyPairOf(t, first[SecretWorkload])
	if uris := firstPair.Leaf.URIs; len(uris) != 1 || uris[0].String() != "spiffe://cluster.local/ns/demo/sa/echo" {
		t.Errorf("default certificate URIs %v", uris)
	}

	waitAsleep(t, clk)
	ack := &discoveryv3.DiscoveryRequest{TypeUrl: req.TypeUrl, ResourceNames: req.ResourceNames, VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp.GetNonce()}
	if err := stream.Send(ack); err != nil {
		t.Fatal(err)
	}
	clk.Step(12 * time.Hour)
	resp2, second := nextSecrets(t, responses, SecretWorkload, SecretRoot)
	if resp2.GetVersionInfo() == resp.GetVersionInfo() {
		t.Errorf("rotation pushed the same version %q", resp.GetVersionInfo())
	}
	secondPair := keyPairOf(t, second[SecretWorkload])
	if secondPair.Leaf.Equal(firstPair.Leaf) || bytes.Equal(
		second[SecretWorkload].GetTlsCertificate().GetPrivateKey().GetInlineBytes(),
		first[SecretWorkload].GetTlsCertificate().GetPrivateKey().GetInlineBytes()) {
		t.Error("rotation pushed the old certificate or key")
	}

	rootOnly, err := secretv3.NewSecretDiscoveryServiceClient(conn).StreamSecrets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := rootOnly.Send(&discoveryv3.DiscoveryRequest{Node: req.Node, TypeUrl: req.TypeUrl, ResourceNames: []string{SecretRoot}}); err != nil {
		t.Fatal(err)
	}
	nextSecrets(t, receive(rootOnly), SecretRoot)
}

type received struct {
	resp *discoveryv3.DiscoveryResponse
	err  error
}

// receive forwards what stream receives until it fails.
func receive(stream secretv3.SecretDiscoveryService_StreamSecretsClient) <-chan received {
	out := make(chan received, 10)
	go func() {
		for {
			resp, err := stream.Recv()
			out <- received{resp, err}
			if err != nil {
				return
			}
		}
	}()
	return out
}

// nextSecrets reads the next SDS response, checks it holds exactly the
// secrets named want, each passing go-control-plane's validation, and
// returns them by name.
func nextSecrets(t *testing.T, responses <-chan received, want ...string) (*discoveryv3.DiscoveryResponse, map[string]*tlsv3.Secret) {
	t.Helper()
	var r received
	select {
	case r = <-responses:
	case <-time.After(10 * time.Second):
		t.Fatalf("no SDS response for %v", want)
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	out := map[string]*tlsv3.Secret{}
	for _, res := range r.resp.GetResources() {
		s := &tlsv3.Secret{}
		if err := res.UnmarshalTo(s); err != nil {
			t.Fatal(err)
		}
		if err := s.ValidateAll(); err != nil {
			t.Errorf("secret %s: %v", s.GetName(), err)
		}
		out[s.GetName()] = s
	}
	for _, name := range want {
		if out[name] == nil {
			t.Fatalf("SDS response has no secret %s", name)
		}
	}
	if len(out) != len(want) {
		t.Fatalf("SDS response has %d secrets, want %v", len(out), want)
	}
	return r.resp, out
}

// keyPairOf checks that the default secret's chain and key are a pair.
func keyPairOf(t *testing.T, s *tlsv3.Secret) tls.Certificate {
	t.Helper()
	c := s.GetTlsCertificate()
	pair, err := tls.X509KeyPair(c.GetCertificateChain().GetInlineBytes(), c.GetPrivateKey().GetInlineBytes())
	if err != nil {
		t.Fatalf("secret %s: %v", s.GetName(), err)
	}
	return pair
}
