package xds

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const pcdsType = "type.googleapis.com/istio.mesh.v1alpha1.ProxyConfig"

// TestRootRotationUnderTraffic rotates the self-signed root while proxyless gRPC workloads
// (each with `loom agent`) talk mTLS: a steady RPC stream on one connection, and new
// connections (new handshakes) every second. The new root joins the trust bundle first;
// the signer switches only once every agent subscribed to the bundle ACKed it (a subscriber
// that never ACKs holds the switch back); the old root leaves once no certificate it
// signed can be valid (1-minute certificates here). No RPC fails, and at the end every
// workload's certificate and trust bundle are the new root's alone.
func TestRootRotationUnderTraffic(t *testing.T) {
	ns := newNamespace(t)
	labels := map[string]string{"app": "rootrot", "security.istio.io/tlsMode": "istio"}
	srv := startMeshedService(t, network.Hosts[3], ns, "rootrot", "server", labels)
	cli := startAgent(t, ns, "client", "client-0", "127.0.0.1", plane.xdsAddr, map[string]string{"app": "client"})
	tgt := target(ns, "rootrot", srv.port)
	want := "server=" + identity(ns, "server") + " client=" + identity(ns, "client")
	if s := runSummary(t, meshedClient(cli, tgt, "--n", "3", "--wait-for-ready")); s.Identities[want] != 3 {
		t.Fatalf("before the rotation: want 3 mTLS calls with %q, got %+v", want, s)
	}
	oldRoot := caSecretRoot(t)

	stream := meshedClient(cli, tgt, "--duration", "10m", "--interval", "100ms", "--wait-for-ready")
	var streamOut, streamErr bytes.Buffer
	stream.Stdout, stream.Stderr = &streamOut, &streamErr
	if err := stream.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stream.Process.Kill(); _ = stream.Wait() })
	handshakes := startHandshakes(t, cli, tgt, want)

	// A subscriber that never ACKs: the switch must wait for it.
	stall := subscribeWithoutAck(t)

	annotateCASecret(t, "loom.dev/rotate-root", strconv.FormatInt(time.Now().UnixNano(), 10))
	waitRotation(t, "the new root distributed, held back by the silent subscriber", func(phase, msg string) bool {
		return phase == "Distributing" && bytes.Contains([]byte(msg), []byte("1 connected agents of this control-plane pod have not acknowledged it"))
	})
	for _, w := range []workload{cli, srv.workload} {
		waitRoots(t, w, 2, "the agent serves both roots")
	}
	if _, pending := caSecretData(t)["next-root-cert.pem"]; !pending {
		t.Fatal("the signer switched while a subscriber had not acknowledged the new bundle")
	}
	stall()

	waitRotation(t, "the signer switched to the new root", func(phase, _ string) bool { return phase == "Retiring" })
	newRoot := caSecretRoot(t)
	if newRoot.Equal(oldRoot) {
		t.Fatal("the root in the CA Secret did not change at the switch")
	}
	waitRotation(t, "the old root retired", func(phase, _ string) bool { return phase == "" })
	for _, w := range []workload{cli, srv.workload} {
		waitRoots(t, w, 1, "the agent serves the new root alone")
		roots := readRoots(t, w)
		if !roots[0].Equal(newRoot) {
			t.Fatal("the trust bundle left is not the new root")
		}
		waitChainsTo(t, w, newRoot)
	}

	failures := handshakes()
	_ = stream.Process.Signal(syscall.SIGTERM)
	if err := stream.Wait(); err != nil {
		t.Fatalf("steady client: %v\n%s", err, streamErr.String())
	}
	var s summary
	if err := json.Unmarshal(streamOut.Bytes(), &s); err != nil {
		t.Fatalf("steady client output: %v\n%s", err, streamOut.String())
	}
	if s.Total < 100 || s.OK != s.Total {
		t.Fatalf("RPCs failed on the steady connection across the root rotation: %+v", s)
	}
	if len(failures) > 0 {
		t.Fatalf("new connections failed during the root rotation: %v", failures)
	}
	// The namespaces' istio-ca-root-cert follows the retirement on its own, after the agents.
	newBundle := bytes.TrimSpace(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: newRoot.Raw}))
	var got []byte
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 60*time.Second, true, func(context.Context) (bool, error) {
		got = waitTrustBundle(t, ns)
		return bytes.Equal(bytes.TrimSpace(got), newBundle), nil
	})
	if err != nil {
		t.Fatalf("istio-ca-root-cert never became the new root alone:\n%s", got)
	}
}

// startHandshakes opens a new connection every second (3 calls each) until the returned
// function is called, which returns the failures.
func startHandshakes(t *testing.T, w workload, tgt, want string) func() []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var failures []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			cmd := meshedClient(w, tgt, "--n", "3", "--wait-for-ready", "--timeout", "10s")
			var out bytes.Buffer
			cmd.Stdout = &out
			err := cmd.Run()
			var s summary
			if err == nil {
				err = json.Unmarshal(out.Bytes(), &s)
			}
			if err != nil || s.Identities[want] != 3 {
				mu.Lock()
				failures = append(failures, time.Now().Format(time.RFC3339Nano)+": "+out.String())
				mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			cancel()
			<-done
		}
	})
	return func() []string {
		stopped = true
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return failures
	}
}

// subscribeWithoutAck subscribes to the trust bundle on the plaintext xDS port and never
// ACKs; the returned function ends the stream.
func subscribeWithoutAck(t *testing.T) func() {
	t.Helper()
	conn, err := grpc.NewClient(plane.xdsAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ads, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	node := &corev3.Node{Id: "silent-agent", Metadata: &structpb.Struct{Fields: map[string]*structpb.Value{
		"LOOM_TRUST_BUNDLE_ONLY": structpb.NewStringValue("true"),
	}}}
	if err := ads.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: pcdsType}); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			if _, err := ads.Recv(); err != nil {
				return
			}
		}
	}()
	closed := false
	end := func() {
		if !closed {
			closed = true
			cancel()
			_ = conn.Close()
		}
	}
	t.Cleanup(end)
	return end
}

func caSecretData(t *testing.T) map[string][]byte {
	t.Helper()
	var s corev1.Secret
	if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: "istio-system", Name: "loom-ca"}, &s); err != nil {
		t.Fatal(err)
	}
	return s.Data
}

func caSecretRoot(t *testing.T) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(caSecretData(t)["root-cert.pem"])
	if b == nil {
		t.Fatal("loom-ca has no root-cert.pem")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func annotateCASecret(t *testing.T, key, value string) {
	t.Helper()
	var s corev1.Secret
	ctx := context.Background()
	if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: "istio-system", Name: "loom-ca"}, &s); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(s.DeepCopy())
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[key] = value
	if err := k8sClient.Patch(ctx, &s, patch); err != nil {
		t.Fatal(err)
	}
}

// waitRotation waits for the CA state the control plane publishes to satisfy cond.
func waitRotation(t *testing.T, what string, cond func(phase, message string) bool) {
	t.Helper()
	var last corev1.ConfigMap
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: "istio-system", Name: "loom-ca-state"}, &last); err != nil {
			return false, nil
		}
		return cond(last.Data["root-rotation-phase"], last.Data["root-rotation-message"]), nil
	})
	if err != nil {
		t.Fatalf("%s: not reached; CA state phase %q: %s", what, last.Data["root-rotation-phase"], last.Data["root-rotation-message"])
	}
}

func readRoots(t *testing.T, w workload) []*x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(w.dir, "certs", "root-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	var out []*x509.Certificate
	for b, rest := pem.Decode(data); b != nil; b, rest = pem.Decode(rest) {
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

func waitRoots(t *testing.T, w workload, n int, what string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		return len(readRoots(t, w)) == n, nil
	})
	if err != nil {
		t.Fatalf("%s: root-cert.pem in %s holds %d roots, want %d", what, w.dir, len(readRoots(t, w)), n)
	}
}

// waitChainsTo waits for the agent's certificate to chain to root (a renewal after the
// switch).
func waitChainsTo(t *testing.T, w workload, root *x509.Certificate) {
	t.Helper()
	verify := func() error {
		certs := agentChain(t, w)
		roots, inter := x509.NewCertPool(), x509.NewCertPool()
		roots.AddCert(root)
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
		_, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		return err
	}
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 2*time.Minute, true, func(context.Context) (bool, error) {
		return verify() == nil, nil
	})
	if err != nil {
		t.Fatalf("the agent in %s has no certificate of the new root: %v", w.dir, verify())
	}
}
