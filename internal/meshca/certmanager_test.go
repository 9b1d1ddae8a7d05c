package meshca

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"slices"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	cmclient "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned/typed/certmanager/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/pkg/ca"
)

func certManagerClient(t *testing.T) cmclient.CertmanagerV1Interface {
	t.Helper()
	c, err := cmclient.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// startTestIssuer runs a testIssuer for issuer name in namespace ns until the test ends.
func startTestIssuer(t *testing.T, ns, name string, omitCA bool, verdict func(*cmapi.CertificateRequest) (string, string)) *testIssuer {
	t.Helper()
	ensureNamespace(t, ns)
	signer, root := newTestCA(t)
	ti := &testIssuer{client: certManagerClient(t).CertificateRequests(ns), name: name, signer: signer, rootPEM: root, omitCA: omitCA, verdict: verdict}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ti.run(ctx, t); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ti
}

// TestCertManagerCA: in mode CertManager every workload certificate is a CertificateRequest
// answered by the issuer (here the test issuer that follows cert-manager's contract): a
// token gets a certificate for exactly its identity chained to the issuer's root, denied
// and failed requests give the caller the reason, no request is left behind, the state
// and trust bundle are the issuer's root, and the serving certificate verifies with it.
func TestCertManagerCA(t *testing.T) {
	const ns = "mesh-certmanager"
	ti := startTestIssuer(t, ns, "mesh-issuer", false, func(cr *cmapi.CertificateRequest) (string, string) {
		switch cr.Labels[labelWorkloadSA] {
		case "denied":
			return "policy forbids service account denied", ""
		case "broken":
			return "", "the signing key is offline"
		}
		return "", ""
	})
	r := startCA(t, Options{Namespace: ns, Mode: v1alpha1.CACertManager, Issuer: cmmeta.IssuerReference{Name: "mesh-issuer"}, WorkloadCertTTL: 2 * time.Hour})
	root := string(ti.rootPEM)
	waitFor(t, "the issuer's root in the CA state", func() bool { return stateOf(t, ns)[v1alpha1.CAStateKeyRoots] == root })
	state := stateOf(t, ns)
	if state[v1alpha1.CAStateKeyProblem] != "" || state[v1alpha1.CAStateKeyMode] != "CertManager" {
		t.Fatalf("state mode %q problem %q, want CertManager and none", state[v1alpha1.CAStateKeyMode], state[v1alpha1.CAStateKeyProblem])
	}
	if want := string(joinPEM(ti.signer.Chain())); state[v1alpha1.CAStateKeyChain] != want {
		t.Fatalf("state chain is not the issuer's intermediate and root:\n%s", state[v1alpha1.CAStateKeyChain])
	}

	web := ca.Identity{TrustDomain: "cluster.local", Namespace: "cm-shop", ServiceAccount: "web"}
	chain, err := r.request(t, []byte(root), token(t, web.Namespace, web.ServiceAccount, DefaultAudience), web, "Kubernetes")
	if err != nil {
		t.Fatalf("CreateCertificate: %v", err)
	}
	if len(chain) != 3 || chain[len(chain)-1] != root {
		t.Fatalf("chain of %d entries, want leaf, intermediate and the issuer's root last", len(chain))
	}
	verifyChain(t, chain, []byte(root))
	leaf := leafOf(t, chain)
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != web.String() {
		t.Fatalf("leaf URIs %v, want [%s]", leaf.URIs, web)
	}
	if got := leaf.NotAfter.Sub(leaf.NotBefore); got > time.Hour+2*time.Minute {
		t.Fatalf("leaf lives %s; the request asked for 1h", got)
	}
	specs, metas := ti.requestsFor(web.String())
	if len(specs) != 1 {
		t.Fatalf("the issuer saw %d requests for %s, want 1", len(specs), web)
	}
	spec, meta := specs[0], metas[0]
	wantUsages := []cmapi.KeyUsage{cmapi.UsageClientAuth, cmapi.UsageServerAuth, cmapi.UsageDigitalSignature, cmapi.UsageKeyEncipherment}
	switch {
	case spec.Duration == nil || spec.Duration.Duration != time.Hour:
		t.Fatalf("spec.duration %v, want 1h", spec.Duration)
	case !slices.Equal(spec.Usages, wantUsages):
		t.Fatalf("spec.usages %v, want %v", spec.Usages, wantUsages)
	case spec.IssuerRef != cmmeta.IssuerReference{Name: "mesh-issuer", Kind: "Issuer", Group: "cert-manager.io"}:
		t.Fatalf("spec.issuerRef %+v", spec.IssuerRef)
	case meta.Labels[labelWorkloadNamespace] != "cm-shop" || meta.Labels[labelWorkloadSA] != "web" || meta.Labels[labelPurpose] != purposeWorkload:
		t.Fatalf("labels %v do not name the identity", meta.Labels)
	case !strings.HasPrefix(meta.Name, "loom-ca-"):
		t.Fatalf("request name %q is not generated from loom-ca-", meta.Name)
	}

	refusals := []struct {
		name, sa string
		code     codes.Code
		words    []string
	}{
		{"denied", "denied", codes.PermissionDenied, []string{"Denied", "policy forbids service account denied"}},
		{"failed", "broken", codes.Internal, []string{"Failed", "the signing key is offline"}},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			id := ca.Identity{TrustDomain: "cluster.local", Namespace: "cm-shop", ServiceAccount: tc.sa}
			_, err := r.request(t, []byte(root), token(t, id.Namespace, id.ServiceAccount, DefaultAudience), id, "Kubernetes")
			if status.Code(err) != tc.code {
				t.Fatalf("got %v, want code %s", err, tc.code)
			}
			for _, w := range tc.words {
				if !strings.Contains(status.Convert(err).Message(), w) {
					t.Fatalf("error %q does not say %q", status.Convert(err).Message(), w)
				}
			}
		})
	}

	t.Run("another identity is refused before cert-manager", func(t *testing.T) {
		db := ca.Identity{TrustDomain: "cluster.local", Namespace: "cm-shop", ServiceAccount: "db"}
		_, err := r.request(t, []byte(root), token(t, "cm-shop", "web", DefaultAudience), db, "Kubernetes")
		if status.Code(err) != codes.PermissionDenied {
			t.Fatalf("got %v, want PermissionDenied", err)
		}
		if specs, _ := ti.requestsFor(db.String()); len(specs) != 0 {
			t.Fatalf("a CertificateRequest was made for %s", db)
		}
	})

	t.Run("no request left behind", func(t *testing.T) {
		waitFor(t, "no CertificateRequest in "+ns, func() bool {
			list, err := certManagerClient(t).CertificateRequests(ns).List(context.Background(), metav1.ListOptions{})
			return err == nil && len(list.Items) == 0
		})
	})

	t.Run("trust bundle in every namespace", func(t *testing.T) {
		waitFor(t, "istio-ca-root-cert in namespace cm-shop", func() bool {
			cm, err := kube.CoreV1().ConfigMaps("cm-shop").Get(context.Background(), rootConfigMapName, metav1.GetOptions{})
			return err == nil && cm.Data["root-cert.pem"] == root
		})
	})

	t.Run("serving certificate verifies with the issuer's root", func(t *testing.T) {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM([]byte(root))
		conn, err := tls.Dial("tcp", r.addr, &tls.Config{RootCAs: pool, ServerName: testServerName, NextProtos: []string{"h2"}})
		if err != nil {
			t.Fatalf("TLS to the CA: %v", err)
		}
		defer func() { _ = conn.Close() }()
		peer := conn.ConnectionState().PeerCertificates[0]
		if err := peer.CheckSignatureFrom(ti.signer.SigningCert()); err != nil {
			t.Fatalf("serving certificate is not signed by the issuer's intermediate: %v", err)
		}
		_, err = tls.Dial("tcp", r.addr, &tls.Config{RootCAs: x509.NewCertPool(), ServerName: testServerName, NextProtos: []string{"h2"}})
		if err == nil {
			t.Fatal("TLS verified without the issuer's root")
		}
	})
}

// TestCertManagerNoTrustBundle: until the issuer answers with status.ca, the CA state says
// there is no trust bundle yet, and why.
func TestCertManagerNoTrustBundle(t *testing.T) {
	for _, tc := range []struct {
		name, ns, issuer string
		omitCA           bool
		want             string
	}{
		{"no answer", "mesh-cm-silent", "nobody", false, `no trust bundle yet: waiting for issuer Issuer "nobody"`},
		{"no status.ca", "mesh-cm-noca", "no-ca", true, "no trust bundle yet: serving certificate from CertificateRequest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			startTestIssuer(t, tc.ns, "no-ca", tc.omitCA, nil)
			a, err := New(cluster.Config, Options{Namespace: tc.ns, TrustDomain: "cluster.local", Mode: v1alpha1.CACertManager,
				Issuer: cmmeta.IssuerReference{Name: tc.issuer}, DNSNames: []string{testServerName}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { _ = a.Start(ctx); close(done) }()
			defer func() { cancel(); <-done }()
			var problem string
			waitFor(t, "the problem in the CA state", func() bool {
				problem = stateOf(t, tc.ns)[v1alpha1.CAStateKeyProblem]
				return strings.HasPrefix(problem, tc.want)
			})
			if tc.omitCA && !strings.Contains(problem, "no status.ca") {
				t.Fatalf("problem %q does not say status.ca is missing", problem)
			}
			if stateOf(t, tc.ns)[v1alpha1.CAStateKeyRoots] != "" {
				t.Fatal("a root is published before the issuer gave one")
			}
		})
	}
}
