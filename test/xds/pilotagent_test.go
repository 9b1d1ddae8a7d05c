package xds

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// pilotAgentEnv names Istio's pilot-agent binary; `make istio-agent` builds it
// (hack/istio-binaries.sh) and links it at bin/pilot-agent, the default.
const pilotAgentEnv = "LOOM_PILOT_AGENT"

// pilotAgentSecretTTL is the lifetime pilot-agent asks for (SECRET_TTL), below the test
// control plane's 1-minute maximum: the CA must honour it, and the agent renews at half.
const pilotAgentSecretTTL = 20 * time.Second

// pilotAgent is Istio's own node agent (pilot-agent, proxyless: no Envoy) run in its own
// working directory, where it reads its token and CA root at fixed relative paths.
type pilotAgent struct {
	dir, certs, logPath string
}

func pilotAgentBinary(t *testing.T) string {
	t.Helper()
	path := os.Getenv(pilotAgentEnv)
	if path == "" {
		path = filepath.Join("..", "..", "bin", "pilot-agent")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(abs); err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
		t.Fatalf("Istio's pilot-agent is not at %s (%s, default bin/pilot-agent): run `make istio-agent`", abs, pilotAgentEnv)
	}
	return abs
}

// startPilotAgent runs pilot-agent for ServiceAccount sa in ns with token, claiming
// clusterID, until the test ends. It asks Loom's CA for a certificate at once; its xDS proxy
// dials Loom's plaintext xDS port (controlPlaneAuthPolicy NONE) only when a gRPC client
// uses the bootstrap it writes.
func startPilotAgent(t *testing.T, ns, sa, token, clusterID string, root []byte) pilotAgent {
	t.Helper()
	bin := pilotAgentBinary(t)
	dir := t.TempDir()
	a := pilotAgent{dir: dir, certs: filepath.Join(dir, "certs"), logPath: filepath.Join(dir, "pilot-agent.log")}
	for path, data := range map[string][]byte{
		"var/run/secrets/tokens/istio-token":  []byte(token),
		"var/run/secrets/istio/root-cert.pem": root,
	} {
		full := filepath.Join(dir, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The agent writes into OUTPUT_CERTS but does not create it.
	if err := os.Mkdir(a.certs, 0o755); err != nil {
		t.Fatal(err)
	}
	statusPort, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	proxyConfig, err := json.Marshal(map[string]any{
		"discoveryAddress":       plane.xdsAddr,
		"controlPlaneAuthPolicy": "NONE",
		"statusPort":             statusPort,
		"configPath":             filepath.Join(dir, "etc", "istio", "proxy"),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, caPort, _ := net.SplitHostPort(plane.secureAddr)
	cmd := exec.Command(bin, "proxy", "sidecar", "--domain", ns+".svc.cluster.local")
	cmd.Dir = dir
	// Only what the agent needs: nothing from the test's environment reaches it.
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
		"DISABLE_ENVOY=true", "ISTIO_META_GENERATOR=grpc",
		"OUTPUT_CERTS=" + a.certs, "GRPC_XDS_BOOTSTRAP=" + filepath.Join(dir, "grpc-bootstrap.json"),
		"POD_NAME=" + sa + "-0", "POD_NAMESPACE=" + ns, "SERVICE_ACCOUNT=" + sa, "INSTANCE_IP=127.0.0.1",
		"ISTIO_META_CLUSTER_ID=" + clusterID, "TRUST_DOMAIN=cluster.local",
		// localhost: the agent then verifies the CA's certificate for istiod.istio-system.svc.
		"CA_ADDR=localhost:" + caPort, "SECRET_TTL=" + pilotAgentSecretTTL.String(),
		"PROXY_CONFIG=" + string(proxyConfig),
	}
	logFile, err := os.Create(a.logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); _ = logFile.Close() })
	return a
}

func (a pilotAgent) log() string {
	out, _ := os.ReadFile(a.logPath)
	return string(out)
}

// issued is one certificate pilot-agent wrote.
type issued struct {
	leaf *x509.Certificate
}

// readIssued reads and checks what the agent wrote to OUTPUT_CERTS: a chain whose leaf
// verifies to root for the SPIFFE id want and whose key is the one in key.pem. It returns an error
// while the files are missing or mid-update (the agent writes them one by one).
func (a pilotAgent) readIssued(root *x509.CertPool, want string) (issued, error) {
	chainPEM, err := os.ReadFile(filepath.Join(a.certs, "cert-chain.pem"))
	if err != nil {
		return issued{}, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(a.certs, "key.pem"))
	if err != nil {
		return issued{}, err
	}
	var certs []*x509.Certificate
	for rest := chainPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return issued{}, fmt.Errorf("cert-chain.pem: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return issued{}, fmt.Errorf("cert-chain.pem holds no certificate")
	}
	leaf := certs[0]
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != want {
		return issued{}, fmt.Errorf("cert-chain.pem: leaf URI SANs %v, want [%s]", leaf.URIs, want)
	}
	intermediates := x509.NewCertPool()
	for _, c := range certs[1:] {
		intermediates.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: root, Intermediates: intermediates, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return issued{}, fmt.Errorf("cert-chain.pem does not chain to the root in istio-ca-root-cert: %w", err)
	}
	b, _ := pem.Decode(keyPEM)
	if b == nil {
		return issued{}, fmt.Errorf("key.pem holds no PEM")
	}
	key, err := parsePrivateKey(b.Bytes)
	if err != nil {
		return issued{}, fmt.Errorf("key.pem: %w", err)
	}
	if pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(leaf.PublicKey) {
		return issued{}, fmt.Errorf("key.pem is not the key of the leaf in cert-chain.pem")
	}
	return issued{leaf: leaf}, nil
}

// waitIssued polls until the agent's files hold a valid certificate for the SPIFFE id want
// that satisfies done.
func (a pilotAgent) waitIssued(t *testing.T, roots *x509.CertPool, want string, timeout time.Duration, done func(issued) bool) issued {
	t.Helper()
	var got issued
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		c, err := a.readIssued(roots, want)
		if last = err; err != nil {
			return false, nil
		}
		got = c
		return done(c), nil
	})
	if err != nil {
		t.Fatalf("pilot-agent wrote no expected certificate within %s (last: %v); its log:\n%s", timeout, last, a.log())
	}
	return got
}

// TestPilotAgentObtainsAndRenewsCertificate: Istio's own agent, an independent client of the
// CSR API, gets its workload certificate from Loom's CA with a real ServiceAccount token and
// the root Loom published, with the lifetime it asked for, and renews it.
func TestPilotAgentObtainsAndRenewsCertificate(t *testing.T) {
	ns := newNamespace(t)
	rootPEM := waitTrustBundle(t, ns)
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootPEM) {
		t.Fatalf("istio-ca-root-cert in %s holds no certificate", ns)
	}
	want := identity(ns, "istio-client")
	a := startPilotAgent(t, ns, "istio-client", audienceToken(t, ns, "istio-client", "istio-ca"), "Kubernetes", rootPEM)

	first := a.waitIssued(t, roots, want, 60*time.Second, func(issued) bool { return true })
	if life := time.Until(first.leaf.NotAfter); life > pilotAgentSecretTTL {
		t.Errorf("the leaf expires in %s; pilot-agent asked for %s (SECRET_TTL)", life.Round(time.Second), pilotAgentSecretTTL)
	}

	// The agent renews at half the lifetime.
	second := a.waitIssued(t, roots, want, pilotAgentSecretTTL+10*time.Second, func(c issued) bool {
		return c.leaf.SerialNumber.Cmp(first.leaf.SerialNumber) != 0
	})
	if !second.leaf.NotAfter.After(first.leaf.NotAfter) {
		t.Errorf("the renewed leaf expires at %s, not after the first one's %s", second.leaf.NotAfter, first.leaf.NotAfter)
	}
}

// TestPilotAgentProxylessMutualTLS: a proxyless gRPC client configured by pilot-agent (its
// gRPC bootstrap, its xDS proxy to Loom's plaintext xDS port, the certificate it got from
// Loom's CA) calls a server meshed by `loom agent` over mTLS; each side sees the other's
// SPIFFE id.
func TestPilotAgentProxylessMutualTLS(t *testing.T) {
	ns := newNamespace(t)
	labels := map[string]string{"app": "secure", "security.istio.io/tlsMode": "istio"}
	srv := startMeshedService(t, network.Hosts[2], ns, "secure", "server", labels)
	rootPEM := waitTrustBundle(t, ns)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(rootPEM)
	a := startPilotAgent(t, ns, "istio-client", audienceToken(t, ns, "istio-client", "istio-ca"), "Kubernetes", rootPEM)
	a.waitIssued(t, roots, identity(ns, "istio-client"), 60*time.Second, func(issued) bool { return true })

	cmd := meshedClient(workload{bootstrap: filepath.Join(a.dir, "grpc-bootstrap.json")}, target(ns, "secure", srv.port),
		"--n", "5", "--wait-for-ready", "--timeout", "30s")
	want := "server=" + identity(ns, "server") + " client=" + identity(ns, "istio-client")
	if s := runSummary(t, cmd); s.OK != 5 || s.Identities[want] != 5 {
		t.Fatalf("want 5 mTLS calls with %q through pilot-agent's bootstrap, got %+v; pilot-agent's log:\n%s", want, s, a.log())
	}
}

// TestPilotAgentRefused: the CA refuses pilot-agent, as Unauthenticated, when its token is
// for another audience or it claims another cluster; the agent writes no certificate.
func TestPilotAgentRefused(t *testing.T) {
	ns := newNamespace(t)
	rootPEM := waitTrustBundle(t, ns)
	for _, tc := range []struct{ name, audience, clusterID string }{
		{name: "token for another audience", audience: "not-istio-ca", clusterID: "Kubernetes"},
		{name: "another cluster", audience: "istio-ca", clusterID: "other-cluster"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := caRequests(t, "unauthenticated")
			a := startPilotAgent(t, ns, "istio-client", audienceToken(t, ns, "istio-client", tc.audience), tc.clusterID, rootPEM)
			err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
				return caRequests(t, "unauthenticated") > before && strings.Contains(a.log(), "code = Unauthenticated"), nil
			})
			if err != nil {
				t.Fatalf("no Unauthenticated refusal within 30s (loom_ca_certificate_requests_total{result=\"unauthenticated\"} %v, was %v); pilot-agent's log:\n%s",
					caRequests(t, "unauthenticated"), before, a.log())
			}
			for _, name := range []string{"cert-chain.pem", "key.pem"} {
				if _, err := os.Stat(filepath.Join(a.certs, name)); err == nil {
					t.Errorf("pilot-agent wrote %s although the CA refused it", name)
				}
			}
		})
	}
}

// audienceToken creates the ServiceAccount if needed and returns a TokenRequest token for
// audience.
func audienceToken(t *testing.T, ns, sa, audience string) string {
	t.Helper()
	ctx := context.Background()
	acct := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa}}
	if err := k8sClient.Create(ctx, acct); client.IgnoreAlreadyExists(err) != nil {
		t.Fatal(err)
	}
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{Audiences: []string{audience}}}
	if err := k8sClient.SubResource("token").Create(ctx, acct, tr); err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

// caRequests reads loom_ca_certificate_requests_total for result.
func caRequests(t *testing.T, result string) float64 {
	t.Helper()
	v, ok := counterWithLabel(t, "loom_ca_certificate_requests_total", "result", result)
	if !ok {
		t.Fatalf("no loom_ca_certificate_requests_total{result=%q} in /metrics", result)
	}
	return v
}

// parsePrivateKey reads a PKCS #1, SEC 1 or PKCS #8 private key (pilot-agent writes RSA
// PKCS #1 unless told otherwise).
func parsePrivateKey(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, err
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("a %T is not a signing key", k)
	}
	return signer, nil
}
