package meshca

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/pkg/ca"
)

// istioCACerts is an Istio cacerts Secret's data: an intermediate signed by a root.
func istioCACerts(t *testing.T) map[string][]byte {
	t.Helper()
	root, inter := testRootAndIntermediate(t)
	return map[string][]byte{
		"ca-cert.pem":    inter.CertPEM,
		"ca-key.pem":     inter.KeyPEM,
		"root-cert.pem":  root.CertPEM,
		"cert-chain.pem": append(append([]byte{}, inter.CertPEM...), root.CertPEM...),
	}
}

// testRootAndIntermediate is a root and an intermediate it signed, for cluster.local.
func testRootAndIntermediate(t *testing.T) (root, inter *ca.KeyPair) {
	t.Helper()
	now := time.Now()
	root, err := ca.NewRoot("cluster.local", ca.ECDSAP256, 0, now)
	if err != nil {
		t.Fatal(err)
	}
	inter, err = ca.NewIntermediate(root, "cluster.local", ca.ECDSAP256, 0, now)
	if err != nil {
		t.Fatal(err)
	}
	return root, inter
}

// TestPluggedCA: an Istio cacerts Secret works unchanged; a broken one is reported in the
// CA state naming the key, and the last good CA keeps signing.
func TestPluggedCA(t *testing.T) {
	const ns = "mesh-plugged"
	ensureNamespace(t, ns)
	good := istioCACerts(t)
	secrets := kube.CoreV1().Secrets(ns)
	if _, err := secrets.Create(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "cacerts"}, Data: good}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r := startCA(t, Options{Namespace: ns, Mode: v1alpha1.CAPlugged, PluggedSecret: "cacerts"})
	roots := string(good["root-cert.pem"])
	waitFor(t, "the plugged root in the CA state", func() bool { return stateOf(t, ns)[v1alpha1.CAStateKeyRoots] == roots })

	id := ca.Identity{TrustDomain: "cluster.local", Namespace: "plugged-app", ServiceAccount: "app"}
	tok := token(t, id.Namespace, id.ServiceAccount, DefaultAudience)
	chain, err := r.request(t, []byte(roots), tok, id, "Kubernetes")
	if err != nil {
		t.Fatal(err)
	}
	verifyChain(t, chain, []byte(roots))

	broken := istioCACerts(t)
	broken["ca-key.pem"] = []byte("-----BEGIN EC PRIVATE KEY-----\nnot a key\n-----END EC PRIVATE KEY-----\n")
	cur, err := secrets.Get(context.Background(), "cacerts", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur.Data = broken
	if _, err := secrets.Update(context.Background(), cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	var problem string
	waitFor(t, "the broken key reported", func() bool { problem = stateOf(t, ns)[v1alpha1.CAStateKeyProblem]; return problem != "" })
	if !strings.Contains(problem, `"ca-key.pem"`) || !strings.Contains(problem, "last good CA keeps signing") {
		t.Fatalf("problem %q does not name ca-key.pem and the fallback", problem)
	}
	chain, err = r.request(t, []byte(roots), tok, id, "Kubernetes")
	if err != nil {
		t.Fatalf("the last good CA stopped signing: %v", err)
	}
	verifyChain(t, chain, []byte(roots))
}
