package meshca

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	securityapi "istio.io/api/security/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/pkg/ca"
)

const testServerName = "istiod.mesh.svc"

// runningCA is an Authority serving Istio's CSR API on a loopback TLS port.
type runningCA struct {
	authority *Authority
	registry  *prometheus.Registry
	addr      string
	stop      func()
}

func startCA(t *testing.T, opts Options) *runningCA {
	t.Helper()
	ensureNamespace(t, opts.Namespace)
	reg := prometheus.NewRegistry()
	opts.Registerer, opts.Logger = reg, testr.New(t)
	if opts.TrustDomain == "" {
		opts.TrustDomain = "cluster.local"
	}
	if opts.ClusterID == "" {
		opts.ClusterID = "Kubernetes"
	}
	opts.DNSNames = []string{testServerName}
	a, err := New(cluster.Config, opts)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(a.TLSConfig())))
	a.Register(srv)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { _ = a.Start(ctx); done <- struct{}{} }()
	go func() { _ = srv.Serve(lis); done <- struct{}{} }()
	var once sync.Once
	r := &runningCA{authority: a, registry: reg, addr: lis.Addr().String(), stop: func() {
		once.Do(func() {
			cancel()
			srv.Stop()
			<-done
			<-done
		})
	}}
	t.Cleanup(r.stop)
	waitFor(t, "the CA to have a serving certificate", func() bool { return a.serving.current() != nil })
	return r
}

func ensureNamespace(t *testing.T, ns string) {
	t.Helper()
	_, err := kube.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true,
		func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// request sends a CSR for id with token, trusting roots, as an agent does.
func (r *runningCA) request(t *testing.T, roots []byte, tok string, id ca.Identity, clusterID string) ([]string, error) {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(roots) {
		t.Fatal("no roots")
	}
	conn, err := grpc.NewClient(r.addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: testServerName})))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	md := metadata.Pairs("clusterid", clusterID)
	if tok != "" {
		md.Set("authorization", "Bearer "+tok)
	}
	ctx, cancel := context.WithTimeout(metadata.NewOutgoingContext(context.Background(), md), 20*time.Second)
	defer cancel()
	resp, err := securityapi.NewIstioCertificateServiceClient(conn).CreateCertificate(ctx, &securityapi.IstioCertificateRequest{
		Csr: string(csrFor(t, id)), ValidityDuration: 3600,
	})
	return resp.GetCertChain(), err
}

func csrFor(t *testing.T, id ca.Identity) []byte {
	t.Helper()
	key, err := ca.GenerateKey(ca.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(nil, &x509.CertificateRequest{URIs: []*url.URL{id.URL()}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func stateOf(t *testing.T, ns string) map[string]string {
	t.Helper()
	cm, err := kube.CoreV1().ConfigMaps(ns).Get(context.Background(), v1alpha1.CAStateConfigMap, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	return cm.Data
}

func leafOf(t *testing.T, chain []string) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode([]byte(chain[0]))
	if b == nil {
		t.Fatal("leaf is not PEM")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSelfSignedCA: the root is generated once into its Secret; a workload's token gets a
// certificate for exactly its ServiceAccount, chained to the published root; every
// kind of bad credential is refused and counted; a restarted CA keeps the root.
func TestSelfSignedCA(t *testing.T) {
	const ns = "mesh-selfsigned"
	r := startCA(t, Options{Namespace: ns, Mode: v1alpha1.CASelfSigned, WorkloadCertTTL: 2 * time.Hour})
	var roots string
	waitFor(t, "the CA state ConfigMap", func() bool { roots = stateOf(t, ns)[v1alpha1.CAStateKeyRoots]; return roots != "" })
	if p := stateOf(t, ns)[v1alpha1.CAStateKeyProblem]; p != "" {
		t.Fatalf("state reports a problem: %s", p)
	}

	web := ca.Identity{TrustDomain: "cluster.local", Namespace: "shop", ServiceAccount: "web"}
	chain, err := r.request(t, []byte(roots), token(t, "shop", "web", DefaultAudience), web, "Kubernetes")
	if err != nil {
		t.Fatalf("CreateCertificate: %v", err)
	}
	if len(chain) < 2 || strings.TrimSpace(chain[len(chain)-1]) != strings.TrimSpace(roots) {
		t.Fatalf("chain of %d entries does not end with the published root", len(chain))
	}
	leaf := leafOf(t, chain)
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != web.String() {
		t.Fatalf("leaf URIs %v, want [%s]", leaf.URIs, web)
	}
	if got := leaf.NotAfter.Sub(leaf.NotBefore); got > time.Hour+2*time.Minute {
		t.Fatalf("leaf lives %s; the request asked for 1h", got)
	}
	verifyChain(t, chain, []byte(roots))

	refusals := []struct {
		name  string
		tok   string
		id    ca.Identity
		cid   string
		code  codes.Code
		label string
	}{
		{"no token", "", web, "Kubernetes", codes.Unauthenticated, resultUnauthenticated},
		{"wrong audience", token(t, "shop", "web", "not-istio-ca"), web, "Kubernetes", codes.Unauthenticated, resultUnauthenticated},
		{"forged", forged(token(t, "shop", "web", DefaultAudience)), web, "Kubernetes", codes.Unauthenticated, resultUnauthenticated},
		{"expired", expired(t, token(t, "shop", "web", DefaultAudience)), web, "Kubernetes", codes.Unauthenticated, resultUnauthenticated},
		{"other cluster", token(t, "shop", "web", DefaultAudience), web, "elsewhere", codes.Unauthenticated, resultUnauthenticated},
		{"another service account's id", token(t, "shop", "web", DefaultAudience), ca.Identity{TrustDomain: "cluster.local", Namespace: "shop", ServiceAccount: "db"}, "Kubernetes", codes.PermissionDenied, resultIdentityMismatch},
		{"another namespace's id", token(t, "shop", "web", DefaultAudience), ca.Identity{TrustDomain: "cluster.local", Namespace: "bank", ServiceAccount: "web"}, "Kubernetes", codes.PermissionDenied, resultIdentityMismatch},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			before := testutil.ToFloat64(r.authority.service.metrics.requests.WithLabelValues(tc.label))
			_, err := r.request(t, []byte(roots), tc.tok, tc.id, tc.cid)
			if status.Code(err) != tc.code {
				t.Fatalf("got %v, want code %s", err, tc.code)
			}
			if after := testutil.ToFloat64(r.authority.service.metrics.requests.WithLabelValues(tc.label)); after != before+1 {
				t.Fatalf("%s requests counted %v -> %v, want one more", tc.label, before, after)
			}
		})
	}

	t.Run("deleted service account", func(t *testing.T) {
		tok := token(t, "shop", "gone", DefaultAudience)
		if err := kube.CoreV1().ServiceAccounts("shop").Delete(context.Background(), "gone", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		_, err := r.request(t, []byte(roots), tok, ca.Identity{TrustDomain: "cluster.local", Namespace: "shop", ServiceAccount: "gone"}, "Kubernetes")
		if status.Code(err) != codes.Unauthenticated {
			t.Fatalf("got %v, want Unauthenticated", err)
		}
	})

	t.Run("trust bundle in every namespace", func(t *testing.T) {
		waitFor(t, "istio-ca-root-cert in namespace shop", func() bool {
			cm, err := kube.CoreV1().ConfigMaps("shop").Get(context.Background(), rootConfigMapName, metav1.GetOptions{})
			return err == nil && cm.Data["root-cert.pem"] == roots
		})
	})

	t.Run("restart keeps the root", func(t *testing.T) {
		r.stop()
		r2 := startCA(t, Options{Namespace: ns, Mode: v1alpha1.CASelfSigned})
		if got := string(joinPEM(r2.authority.Signer().Roots())); got != roots {
			t.Fatal("a restarted CA has a new root")
		}
		if _, err := r2.request(t, []byte(roots), token(t, "shop", "web", DefaultAudience), web, "Kubernetes"); err != nil {
			t.Fatalf("after restart: %v", err)
		}
	})
}

func verifyChain(t *testing.T, chain []string, roots []byte) {
	t.Helper()
	pool, inter := x509.NewCertPool(), x509.NewCertPool()
	pool.AppendCertsFromPEM(roots)
	for _, c := range chain[1 : len(chain)-1] {
		inter.AppendCertsFromPEM([]byte(c))
	}
	if _, err := leafOf(t, chain).Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("leaf does not verify to the root: %v", err)
	}
}
