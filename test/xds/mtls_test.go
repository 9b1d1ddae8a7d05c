package xds

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"loom.dev/loom/test/netns"
)

// caServerName is the name in the mesh CA's serving certificate that agents verify.
const caServerName = "istiod.istio-system.svc"

// workload is a proxyless gRPC process's mesh identity: `loom agent` beside it writes its
// certificate and its gRPC bootstrap.
type workload struct {
	dir       string
	bootstrap string
}

// startAgent runs `loom agent` for ServiceAccount sa in ns, authenticated by a token from
// the TokenRequest API (what kubelet projects into pods), until the test ends.
func startAgent(t *testing.T, ns, sa, pod, ip, xdsAddr string, labels map[string]string) workload {
	t.Helper()
	dir := t.TempDir()
	root := waitTrustBundle(t, ns)
	if err := os.WriteFile(filepath.Join(dir, "ca-root.pem"), root, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(serviceAccountToken(t, ns, sa)), 0o600); err != nil {
		t.Fatal(err)
	}
	var lbls []string
	for k, v := range labels {
		lbls = append(lbls, k+"="+v)
	}
	w := workload{dir: dir, bootstrap: filepath.Join(dir, "bootstrap.json")}
	cmd := exec.Command(loomBin, "agent",
		"--namespace", ns, "--service-account", sa, "--pod-name", pod, "--instance-ips", ip,
		"--labels", strings.Join(lbls, ","),
		"--ca-address", plane.secureAddr, "--ca-root-file", filepath.Join(dir, "ca-root.pem"), "--ca-server-name", caServerName,
		"--token-file", filepath.Join(dir, "token"), "--output-dir", filepath.Join(dir, "certs"),
		"--grpc-bootstrap", w.bootstrap, "--xds-address", xdsAddr, "--grpc-cert-refresh", "1s",
		"--ready-file", filepath.Join(dir, "ready"))
	logFile, err := os.Create(filepath.Join(dir, "agent.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); _ = logFile.Close() })
	err = wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 60*time.Second, true, func(context.Context) (bool, error) {
		_, err := os.Stat(w.bootstrap)
		return err == nil, nil
	})
	if err != nil {
		out, _ := os.ReadFile(filepath.Join(dir, "agent.log"))
		t.Fatalf("loom agent for %s/%s wrote no bootstrap:\n%s", ns, sa, out)
	}
	return w
}

// waitTrustBundle waits for the mesh CA's istio-ca-root-cert ConfigMap in ns.
func waitTrustBundle(t *testing.T, ns string) []byte {
	t.Helper()
	var root string
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		var cm corev1.ConfigMap
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "istio-ca-root-cert"}, &cm); err != nil {
			return false, nil
		}
		root = cm.Data["root-cert.pem"]
		return root != "", nil
	})
	if err != nil {
		t.Fatalf("no istio-ca-root-cert in namespace %s: %v", ns, err)
	}
	return []byte(root)
}

// serviceAccountToken creates the ServiceAccount if needed and returns a token for the
// mesh CA's audience.
func serviceAccountToken(t *testing.T, ns, sa string) string {
	t.Helper()
	return audienceToken(t, ns, sa, "istio-ca")
}

// startMeshedService runs an xDS-enabled grpcecho server with its agent's bootstrap as the
// one backend of Service svc: the server serves once the control plane sends the Listener
// for its endpoint.
func startMeshedService(t *testing.T, host *netns.Host, ns, svc, sa string, labels map[string]string) backend {
	t.Helper()
	name := svc + "-0"
	w := startAgent(t, ns, sa, name, host.IP, net.JoinHostPort(host.Gateway, plane.xdsPort()), labels)
	b := backend{name: name, host: host, port: int(nextPort.Add(1)), labels: labels, serviceAccount: sa, workload: w}
	createService(t, ns, svc, b.port, b)
	cmd := host.Command(echoBin, "server", "--xds", "--name", name, "--listen", host.Addr(b.port))
	cmd.Env = append(os.Environ(), "GRPC_XDS_BOOTSTRAP="+w.bootstrap)
	waitForLine(t, cmd, "READY", 60*time.Second)
	return b
}

// meshedClient is a grpcecho client command using its agent's bootstrap.
func meshedClient(w workload, target string, args ...string) *exec.Cmd {
	cmd := exec.Command(echoBin, append([]string{"client", "--target", target}, args...)...)
	cmd.Env = append(os.Environ(), "GRPC_XDS_BOOTSTRAP="+w.bootstrap)
	return cmd
}

func identity(ns, sa string) string { return "spiffe://cluster.local/ns/" + ns + "/sa/" + sa }

// TestMutualTLS: proxyless gRPC clients and servers, each with `loom agent` getting its
// certificate from the mesh CA with a ServiceAccount token, talk mTLS: each side sees the
// other's SPIFFE id. STRICT refuses a plaintext client, DISABLE serves plaintext only, and
// PERMISSIVE does what Istio does for proxyless servers (mTLS for meshed workloads) and is
// reported.
func TestMutualTLS(t *testing.T) {
	ns := newNamespace(t)
	labels := map[string]string{"app": "secure", "security.istio.io/tlsMode": "istio"}
	srv := startMeshedService(t, network.Hosts[0], ns, "secure", "server", labels)
	client := startAgent(t, ns, "client", "client-0", "127.0.0.1", plane.xdsAddr, map[string]string{"app": "client", "security.istio.io/tlsMode": "istio"})
	tgt := target(ns, "secure", srv.port)
	want := "server=" + identity(ns, "server") + " client=" + identity(ns, "client")

	s := runSummary(t, meshedClient(client, tgt, "--n", "20", "--wait-for-ready"))
	if s.OK != 20 || s.Identities[want] != 20 {
		t.Fatalf("mesh default (PERMISSIVE, meshed server): want 20 mTLS calls with %q, got %+v", want, s)
	}

	plaintext := func() summary {
		cmd := exec.Command(echoBin, "client", "--target", "passthrough:///"+srv.host.Addr(srv.port), "--n", "5", "--timeout", "2s")
		return runSummary(t, cmd)
	}
	if p := plaintext(); p.OK != 0 {
		t.Fatalf("a meshed proxyless server under PERMISSIVE answered a plaintext client (Istio serves it mTLS only): %+v", p)
	}
	apply(t, ns, "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default}\nspec:\n  mtls: {mode: PERMISSIVE}\n")
	waitForProblem(t, "PeerAuthentication "+ns+"/default: ", "PERMISSIVE")

	apply(t, ns, "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default}\nspec:\n  mtls: {mode: STRICT}\n")
	if p := plaintext(); p.OK != 0 {
		t.Fatalf("STRICT answered a plaintext client: %+v", p)
	}
	if s := runSummary(t, meshedClient(client, tgt, "--n", "10", "--wait-for-ready")); s.Identities[want] != 10 {
		t.Fatalf("STRICT: want 10 mTLS calls with %q, got %+v", want, s)
	}

	apply(t, ns, "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default}\nspec:\n  mtls: {mode: DISABLE}\n")
	plainWant := "server=plaintext client=plaintext"
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return plaintext().OK == 5, nil
	})
	if err != nil {
		t.Fatalf("DISABLE: the server never answered a plaintext client: %+v", plaintext())
	}
	if s := runSummary(t, meshedClient(client, tgt, "--n", "10", "--wait-for-ready")); s.Identities[plainWant] != 10 {
		t.Fatalf("DISABLE: want 10 plaintext calls from the meshed client, got %+v", s)
	}
}

// TestCertificateRotationUnderTraffic: the control plane here issues 1-minute certificates;
// agents renew them at half-life. A steady stream of RPCs across the first certificates'
// expiry has no failure, and a new connection afterwards (a new handshake, which an expired
// certificate would fail) works on both sides with the rotated certificates.
func TestCertificateRotationUnderTraffic(t *testing.T) {
	ns := newNamespace(t)
	labels := map[string]string{"app": "rotating", "security.istio.io/tlsMode": "istio"}
	srv := startMeshedService(t, network.Hosts[1], ns, "rotating", "server", labels)
	client := startAgent(t, ns, "client", "client-0", "127.0.0.1", plane.xdsAddr, map[string]string{"app": "client"})
	first := leafSerial(t, client)
	tgt := target(ns, "rotating", srv.port)

	s := runSummary(t, meshedClient(client, tgt, "--duration", "75s", "--interval", "100ms", "--wait-for-ready"))
	if s.Total < 100 || s.OK != s.Total {
		t.Fatalf("RPCs failed across certificate rotation: %+v", s)
	}
	if leafSerial(t, client) == first {
		t.Fatal("the client's certificate was not rotated within 75s of a 1-minute certificate")
	}
	want := "server=" + identity(ns, "server") + " client=" + identity(ns, "client")
	if s := runSummary(t, meshedClient(client, tgt, "--n", "5", "--wait-for-ready")); s.Identities[want] != 5 {
		t.Fatalf("a new connection after rotation: want 5 mTLS calls with %q, got %+v", want, s)
	}
}

func leafSerial(t *testing.T, w workload) string {
	t.Helper()
	return agentChain(t, w)[0].SerialNumber.String()
}

// agentChain is the certificate chain the agent wrote (leaf first).
func agentChain(t *testing.T, w workload) []*x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(w.dir, "certs", "cert-chain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	var certs []*x509.Certificate
	for b, rest := pem.Decode(data); b != nil; b, rest = pem.Decode(rest) {
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		t.Fatal("cert-chain.pem holds no PEM")
	}
	return certs
}

// TestRestartedControlPlaneKeepsTheRoot: a control plane killed and started again (a
// crashed or upgraded pod) keeps the self-signed root from its Secret, so workloads keep
// trusting it: a client with its certificate from before the restart still talks mTLS to a
// server, and a new agent's certificate chains to the same root.
func TestRestartedControlPlaneKeepsTheRoot(t *testing.T) {
	ns := newNamespace(t)
	labels := map[string]string{"app": "restarts", "security.istio.io/tlsMode": "istio"}
	srv := startMeshedService(t, network.Hosts[2], ns, "restarts", "server", labels)
	client := startAgent(t, ns, "client", "client-0", "127.0.0.1", plane.xdsAddr, map[string]string{"app": "client"})
	rootBefore := waitTrustBundle(t, ns)

	plane.kill()
	if err := plane.start(); err != nil {
		t.Fatal(err)
	}
	if rootAfter := waitTrustBundle(t, ns); string(rootAfter) != string(rootBefore) {
		t.Fatal("the restarted control plane published a new root")
	}
	want := "server=" + identity(ns, "server") + " client=" + identity(ns, "client")
	if s := runSummary(t, meshedClient(client, target(ns, "restarts", srv.port), "--n", "10", "--wait-for-ready")); s.Identities[want] != 10 {
		t.Fatalf("after the restart: want 10 mTLS calls with %q, got %+v", want, s)
	}
	fresh := startAgent(t, ns, "fresh", "fresh-0", "127.0.0.1", plane.xdsAddr, map[string]string{"app": "fresh"})
	verifyAgainst(t, fresh, rootBefore)
}

// verifyAgainst checks the agent's certificate chains to root.
func verifyAgainst(t *testing.T, w workload, root []byte) {
	t.Helper()
	certs := agentChain(t, w)
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AppendCertsFromPEM(root)
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("a certificate issued after the restart does not chain to the root from before: %v", err)
	}
}
