package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"
)

// TestGatewayAgentProxiesXDSAndServesSDS: with --proxy gateway the agent
// serves a gateway's Envoy, which runs in another container: its ADS stream
// goes through the agent's socket to Loom's real discovery server on the
// authenticated port, its certificate over SDS; the agent neither writes a
// bootstrap nor starts a process.
func TestGatewayAgentProxiesXDSAndServesSDS(t *testing.T) {
	cp := sharedControlPlane(t)
	sockets := shortTempDir(t)
	opts := Options{
		TrustDomain: "cluster.local", Namespace: planeNamespace, ServiceAccount: "ingress", KeyAlgorithm: ECDSAP256,
		CAAddress: cp.secureAddr, CARootFile: cp.rootFile, CAServerName: planeServerName,
		TokenFile: cp.tokenFile(t, "ingress"), ClusterID: "Kubernetes", CertTTL: time.Hour,
		SDSSocket: filepath.Join(sockets, "sds"),
		Proxy:     ProxyGateway,
		Envoy:     EnvoyOptions{XDSProxySocket: filepath.Join(sockets, "XDS"), BootstrapPath: filepath.Join(t.TempDir(), "never-written.json")},
		Logger:    (&logLines{}).logger(),
	}
	startAgent(t, opts)

	dial := func(socket string) *grpc.ClientConn {
		conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		return conn
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	meta, err := structpb.NewStruct(map[string]any{"NAMESPACE": planeNamespace, "NAME": "ingress-1", "LABELS": map[string]any{"istio": "ingressgateway"}})
	if err != nil {
		t.Fatal(err)
	}
	node := &corev3.Node{Id: "router~10.1.0.9~ingress-1." + planeNamespace + "~" + planeNamespace + ".svc.cluster.local", Metadata: meta}

	ads, err := discoveryv3.NewAggregatedDiscoveryServiceClient(dial(opts.Envoy.XDSProxySocket)).DeltaAggregatedResources(ctx, grpc.WaitForReady(true))
	if err != nil {
		t.Fatal(err)
	}
	if err := ads.Send(&discoveryv3.DeltaDiscoveryRequest{Node: node, TypeUrl: resourcev3.ClusterType}); err != nil {
		t.Fatal(err)
	}
	resp, err := ads.Recv()
	if err != nil {
		t.Fatalf("the gateway's first xDS response through the agent: %v", err)
	}
	if resp.GetTypeUrl() != resourcev3.ClusterType || resp.GetNonce() == "" {
		t.Fatalf("first response: type %s nonce %q, want clusters", resp.GetTypeUrl(), resp.GetNonce())
	}

	sds, err := secretv3.NewSecretDiscoveryServiceClient(dial(opts.SDSSocket)).StreamSecrets(ctx, grpc.WaitForReady(true))
	if err != nil {
		t.Fatal(err)
	}
	if err := sds.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: resourcev3.SecretType, ResourceNames: []string{SecretWorkload}}); err != nil {
		t.Fatal(err)
	}
	_, secrets := nextSecrets(t, receive(sds), SecretWorkload)
	if chain := string(secrets[SecretWorkload].GetTlsCertificate().GetCertificateChain().GetInlineBytes()); !strings.Contains(chain, "BEGIN CERTIFICATE") {
		t.Fatalf("no certificate chain over SDS: %q", chain)
	}
	if _, err := os.Stat(opts.Envoy.BootstrapPath); !os.IsNotExist(err) {
		t.Errorf("the gateway agent wrote a bootstrap (%v): the gateway's Envoy has its own", err)
	}
}
