package meshca

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"loom.dev/loom/pkg/ca"
)

// TestSelfSignedRootRotation walks the store through a rotation on a fake clock: the new
// root joins the bundle, the old one signs until the bundle is acknowledged, then the new
// one signs and the old one stays trusted until every certificate it signed has ended.
func TestSelfSignedRootRotation(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset()
	acked, waiting := false, "2 agents lag"
	rot := &rootRotation{maxTTL: time.Hour, log: testr.New(t),
		acknowledged: func(context.Context, []byte) (bool, string) { return acked, waiting }}
	store := &selfSignedStore{client: client, namespace: "mesh", trustDomain: "cluster.local", alg: ca.ECDSAP256, rotation: rot}
	now := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)

	load := func(at time.Time) *ca.Signer {
		t.Helper()
		s, err := store.load(ctx, at)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	first := load(now)
	oldRoot := rootOf(t, first)
	if len(first.Roots()) != 1 || rot.current().Phase != ca.RotationIdle {
		t.Fatalf("a new CA: %d roots, phase %q", len(first.Roots()), rot.current().Phase)
	}

	request(t, client, "r1")
	distributing := load(now)
	if rot.current().Phase != ca.RotationDistributing || len(distributing.Roots()) != 2 {
		t.Fatalf("after the request: phase %q, %d roots; want Distributing with both", rot.current().Phase, len(distributing.Roots()))
	}
	if !rootOf(t, distributing).Equal(oldRoot) {
		t.Fatal("the new root signs before the bundle is acknowledged")
	}
	again := load(now.Add(time.Minute))
	if !rootOf(t, again).Equal(oldRoot) || !strings.Contains(rot.current().Message, "2 agents lag") {
		t.Fatalf("unacknowledged: the signer must stay; message %q", rot.current().Message)
	}

	acked = true
	switched := now.Add(2 * time.Minute)
	retiring := load(switched)
	newRoot := rootOf(t, retiring)
	if rot.current().Phase != ca.RotationRetiring || newRoot.Equal(oldRoot) || len(retiring.Roots()) != 2 {
		t.Fatalf("acknowledged: phase %q, %d roots, new signer root: %v", rot.current().Phase, len(retiring.Roots()), !newRoot.Equal(oldRoot))
	}
	if got := load(switched.Add(time.Hour)); len(got.Roots()) != 2 {
		t.Fatal("the old root left the bundle while a certificate it signed could still be valid")
	}
	done := load(switched.Add(67 * time.Minute))
	if rot.current().Phase != ca.RotationIdle || len(done.Roots()) != 1 || !rootOf(t, done).Equal(newRoot) {
		t.Fatalf("after the retirement: phase %q, %d roots", rot.current().Phase, len(done.Roots()))
	}
	if load(switched.Add(68 * time.Minute)); rot.current().Phase != ca.RotationIdle {
		t.Fatal("the request handled once began a second rotation")
	}

	// A root within a year of its end rotates by itself (the first load there renews the
	// expired intermediate; each load takes one step).
	late := newRoot.NotAfter.Add(-300 * 24 * time.Hour)
	load(late)
	auto := load(late)
	if rot.current().Phase != ca.RotationDistributing || len(auto.Roots()) != 2 || !strings.Contains(rot.current().Message, "expires at") {
		t.Fatalf("near the root's end: phase %q (%s)", rot.current().Phase, rot.current().Message)
	}
}

func request(t *testing.T, client *fake.Clientset, value string) {
	t.Helper()
	s, err := client.CoreV1().Secrets("mesh").Get(context.Background(), SelfSignedSecret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	metav1.SetMetaDataAnnotation(&s.ObjectMeta, RotateRootAnnotation, value)
	if _, err := client.CoreV1().Secrets("mesh").Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// rootOf is the root the signer's chain ends with.
func rootOf(t *testing.T, s *ca.Signer) *x509.Certificate {
	t.Helper()
	chain := s.Chain()
	b, _ := pem.Decode(chain[len(chain)-1])
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestParseSelfSignedRefusesTwoPhasesAtOnce(t *testing.T) {
	data := map[string][]byte{keyNextRootCert: []byte("x"), keyPreviousRootCert: []byte("y")}
	root, err := ca.NewRoot("cluster.local", ca.ECDSAP256, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	data[keyRootCert], data[keyRootKey], data[keyCACert], data[keyCAKey] = root.CertPEM, root.KeyPEM, root.CertPEM, root.KeyPEM
	if _, err := parseSelfSigned(data); err == nil || !strings.Contains(err.Error(), "both distributing and retiring") {
		t.Fatalf("parseSelfSigned = %v", err)
	}
}
