package discovery

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/anypb"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/pkg/ca"
)

func testRoots(t *testing.T) (a, b []byte) {
	t.Helper()
	ra, err := ca.NewRoot("cluster.local", ca.ECDSAP256, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rb, err := ca.NewRoot("cluster.local", ca.ECDSAP256, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ra.CertPEM, rb.CertPEM
}

// TestWebhooksTrustTheBundle: only webhooks served from the mesh namespace count, and each
// must hold every root of the bundle.
func TestWebhooksTrustTheBundle(t *testing.T) {
	a, b := testRoots(t)
	bundle := append(append([]byte{}, a...), b...)
	svc := func(ns string, caBundle []byte) admissionregistrationv1.WebhookClientConfig {
		return admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: ns, Name: "loom"}, CABundle: caBundle}
	}
	url := "https://x"
	cases := []struct {
		name  string
		hooks []servedWebhook
		ok    bool
	}{
		{"none", nil, true},
		{"ours with both", []servedWebhook{{"MutatingWebhookConfiguration m", "inject", svc("mesh", bundle)}}, true},
		{"ours with the old root only", []servedWebhook{{"MutatingWebhookConfiguration m", "inject", svc("mesh", a)}}, false},
		{"another namespace's", []servedWebhook{{"ValidatingWebhookConfiguration v", "validate", svc("other", a)}}, true},
		{"by URL", []servedWebhook{{"ValidatingWebhookConfiguration v", "validate", admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: a}}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok, why := webhooksTrust(tc.hooks, "mesh", bundle)
			if ok != tc.ok || !ok && !strings.Contains(why, "does not hold the new root") {
				t.Fatalf("webhooksTrust = %v (%s), want %v", ok, why, tc.ok)
			}
		})
	}
}

// TestPeersHoldBundle: every live control-plane pod but this one must serve the bundle with
// none of its subscribers lagging; gone pods and this pod's own key do not count.
func TestPeersHoldBundle(t *testing.T) {
	report := func(hash string, lagging int32) string {
		b, _ := json.Marshal(v1alpha1.ProxyCounts{Connected: 3, TrustBundle: hash, TrustBundleLagging: lagging})
		return string(b)
	}
	cm := func(data map[string]string) []corev1.ConfigMap {
		return []corev1.ConfigMap{{ObjectMeta: metav1.ObjectMeta{Name: "loom-proxies-default"}, Data: data}}
	}
	live := map[string]bool{"self": true, "peer": true}
	cases := []struct {
		name string
		data map[string]string
		ok   bool
		why  string
	}{
		{"peer current", map[string]string{"self": report("old", 5), "peer": report("h", 0)}, true, ""},
		{"peer on the old bundle", map[string]string{"peer": report("old", 0)}, false, "does not serve the new trust bundle"},
		{"peer lagging", map[string]string{"peer": report("h", 2)}, false, "2 agents connected to control-plane pod peer"},
		{"gone pod", map[string]string{"gone": report("old", 9)}, true, ""},
		{"unreadable", map[string]string{"peer": "{"}, false, "unreadable report"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok, why := peersHoldBundle(cm(tc.data), live, "self", "h")
			if ok != tc.ok || !strings.Contains(why, tc.why) {
				t.Fatalf("peersHoldBundle = %v (%s), want %v (%q)", ok, why, tc.ok, tc.why)
			}
		})
	}
}

// TestTrustBundleResourceCarriesTheBundle: the PCDS resource is Istio's ProxyConfig with the
// roots, and carries compares it with a bundle as meshca joins it.
func TestTrustBundleResourceCarriesTheBundle(t *testing.T) {
	a, b := testRoots(t)
	var tb trustBundle
	if tb.resource() != nil || !tb.set([]string{string(a), string(b)}) || tb.set([]string{string(a), string(b)}) {
		t.Fatal("set must report changes only")
	}
	// The xDS server keeps what it sent as bytes and decodes them to ask carries.
	sent, err := anypb.New(tb.resource())
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := sent.UnmarshalNew()
	if err != nil {
		t.Fatal(err)
	}
	if !carries(decoded, append(append([]byte{}, a...), b...)) || carries(decoded, a) {
		t.Fatal("carries does not compare the whole bundle of the resource as the xDS server decodes it")
	}
	if blk, _ := pem.Decode(tb.joined()); blk == nil {
		t.Fatal("joined is not PEM")
	} else if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
		t.Fatal(err)
	}
	if bundleHash(a) == bundleHash(b) || bundleHash(a) != bundleHash(append(append([]byte{}, a...), '\n')) {
		t.Fatal("bundleHash must tell bundles apart and ignore trailing space")
	}
}
