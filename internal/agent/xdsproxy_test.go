package agent

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/go-logr/logr"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
)

// shortTempDir is a temporary directory with a path short enough for a
// Unix socket inside it.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "agent")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// startTestXDSProxy serves an xDS proxy to upstream and returns it with an
// ADS client on its socket, as Envoy's xds-grpc cluster reaches it.
func startTestXDSProxy(t *testing.T, upstream *caClient) (*xdsProxy, discoveryv3.AggregatedDiscoveryServiceClient) {
	t.Helper()
	socket := filepath.Join(shortTempDir(t), "XDS")
	p, err := startXDSProxy(socket, upstream, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return p, discoveryv3.NewAggregatedDiscoveryServiceClient(conn)
}

// sidecarNode is an injected sidecar of pod echo-1 in namespace ns.
func sidecarNode(t *testing.T, ns string) *corev3.Node {
	t.Helper()
	meta, err := structpb.NewStruct(map[string]any{"NAMESPACE": ns, "NAME": "echo-1", "LABELS": map[string]any{"app": "echo"}})
	if err != nil {
		t.Fatal(err)
	}
	return &corev3.Node{Id: "sidecar~10.1.0.5~echo-1." + ns + "~" + ns + ".svc.cluster.local", Metadata: meta}
}

func streamContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestXDSProxyForwardsStateOfTheWorldToDiscovery: an Envoy-like client on
// the proxy's socket gets its listeners from Loom's real discovery server
// (secure port, token checked by TokenReview); the proxy reports the
// listeners ACKed only once the client ACKs them.
func TestXDSProxyForwardsStateOfTheWorldToDiscovery(t *testing.T) {
	cp := sharedControlPlane(t)
	p, client := startTestXDSProxy(t, cp.upstream(cp.tokenFile(t, "echo")))
	stream, err := client.StreamAggregatedResources(streamContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: sidecarNode(t, planeNamespace), TypeUrl: resourcev3.ListenerType}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("first response through the proxy: %v", err)
	}
	if resp.GetTypeUrl() != resourcev3.ListenerType || resp.GetNonce() == "" {
		t.Fatalf("first response: type %s nonce %q, want listeners with a nonce", resp.GetTypeUrl(), resp.GetNonce())
	}
	for _, r := range resp.GetResources() {
		if err := r.UnmarshalTo(&listenerv3.Listener{}); err != nil {
			t.Errorf("resource %s: %v", r.GetTypeUrl(), err)
		}
	}
	t.Logf("discovery sent %d listeners through the proxy", len(resp.GetResources()))
	if p.listenersAcked() {
		t.Fatal("listeners reported ACKed before the client ACKed them")
	}
	if err := stream.Send(&discoveryv3.DiscoveryRequest{TypeUrl: resourcev3.ListenerType, VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp.GetNonce()}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the proxy to see the listeners ACKed", p.listenersAcked)
}

// TestXDSProxyForwardsDeltaToDiscovery: the same over delta ADS, which the
// bootstrap makes Envoy use.
func TestXDSProxyForwardsDeltaToDiscovery(t *testing.T) {
	cp := sharedControlPlane(t)
	p, client := startTestXDSProxy(t, cp.upstream(cp.tokenFile(t, "echo")))
	stream, err := client.DeltaAggregatedResources(streamContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&discoveryv3.DeltaDiscoveryRequest{Node: sidecarNode(t, planeNamespace), TypeUrl: resourcev3.ListenerType}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("first delta response through the proxy: %v", err)
	}
	if resp.GetTypeUrl() != resourcev3.ListenerType || resp.GetNonce() == "" {
		t.Fatalf("first delta response: type %s nonce %q, want listeners with a nonce", resp.GetTypeUrl(), resp.GetNonce())
	}
	t.Logf("discovery sent %d listeners through the proxy (delta)", len(resp.GetResources()))
	if p.listenersAcked() {
		t.Fatal("listeners reported ACKed before the client ACKed them")
	}
	if err := stream.Send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resourcev3.ListenerType, ResponseNonce: resp.GetNonce()}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the proxy to see the delta listeners ACKed", p.listenersAcked)
}

// firstResponseError opens a state-of-the-world stream and returns the
// error its first response ends with.
func firstResponseError(t *testing.T, client discoveryv3.AggregatedDiscoveryServiceClient, node *corev3.Node) error {
	t.Helper()
	stream, err := client.StreamAggregatedResources(streamContext(t))
	if err != nil {
		return err
	}
	if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: resourcev3.ListenerType}); err != nil {
		return err
	}
	_, err = stream.Recv()
	return err
}

// TestXDSProxyReadsTheTokenForEveryStream: a stream with a token the
// apiserver does not know is refused by discovery (Unauthenticated, passed
// through to Envoy); after the kubelet writes a real token, the next
// stream works without restarting the proxy; a node claiming another
// namespace than its token's is refused with discovery's PermissionDenied.
func TestXDSProxyReadsTheTokenForEveryStream(t *testing.T) {
	cp := sharedControlPlane(t)
	tokenFile := filepath.Join(t.TempDir(), "istio-token")
	writeToken(t, tokenFile, "not-a-token")
	_, client := startTestXDSProxy(t, cp.upstream(tokenFile))
	if err := firstResponseError(t, client, sidecarNode(t, planeNamespace)); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("forged token: got %v, want Unauthenticated", err)
	}
	writeToken(t, tokenFile, string(readFile(t, cp.tokenFile(t, "echo"))))
	if err := firstResponseError(t, client, sidecarNode(t, planeNamespace)); err != nil {
		t.Fatalf("after the token was rotated: %v", err)
	}
	if err := firstResponseError(t, client, sidecarNode(t, "other")); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("node of namespace other with a token of %s: got %v, want PermissionDenied", planeNamespace, err)
	}
}

// TestXDSProxyVerifiesTheDiscoveryServer: with roots that did not sign
// discovery's serving certificate, no stream gets through.
func TestXDSProxyVerifiesTheDiscoveryServer(t *testing.T) {
	cp := sharedControlPlane(t)
	upstream := cp.upstream(cp.tokenFile(t, "echo"))
	_, _, otherRoot := selfSigned(t, "another root")
	upstream.rootFile = filepath.Join(t.TempDir(), "root-cert.pem")
	if err := os.WriteFile(upstream.rootFile, []byte(otherRoot), 0o600); err != nil {
		t.Fatal(err)
	}
	_, client := startTestXDSProxy(t, upstream)
	if err := firstResponseError(t, client, sidecarNode(t, planeNamespace)); status.Code(err) != codes.Unavailable {
		t.Fatalf("untrusted discovery server: got %v, want Unavailable", err)
	}
	upstream.serverName = "not-istiod.example"
	upstream.rootFile = cp.rootFile
	if err := firstResponseError(t, client, sidecarNode(t, planeNamespace)); status.Code(err) != codes.Unavailable {
		t.Fatalf("discovery server under another name: got %v, want Unavailable", err)
	}
}

// TestACKTracker: only a Listener request naming a Listener response's
// nonce without error detail is an ACK.
func TestACKTracker(t *testing.T) {
	acked := 0
	tr := &ackTracker{onAck: func() { acked++ }}
	tr.response(resourcev3.ClusterType, "c1")
	tr.response(resourcev3.ListenerType, "l1")
	for _, r := range []struct {
		typeURL, nonce string
		nack           bool
	}{
		{resourcev3.ListenerType, "", false},  // the initial request
		{resourcev3.ListenerType, "l1", true}, // a NACK
		{resourcev3.ClusterType, "c1", false}, // ACK of clusters
		{resourcev3.ListenerType, "c1", false},
		{resourcev3.ListenerType, "l0", false},
	} {
		var detail *rpcstatus.Status
		if r.nack {
			detail = &rpcstatus.Status{Code: int32(codes.InvalidArgument), Message: "rejected"}
		}
		tr.request(r.typeURL, r.nonce, detail)
	}
	if acked != 0 {
		t.Fatalf("%d ACKs seen before the listeners were ACKed", acked)
	}
	tr.request(resourcev3.ListenerType, "l1", nil)
	if acked != 1 {
		t.Fatalf("ACK of the listeners seen %d times, want once", acked)
	}
}
