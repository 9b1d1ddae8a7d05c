package controllers

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/pkg/ca"
)

func TestJudgeCA(t *testing.T) {
	issued := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	root, err := ca.NewRoot("cluster.local", ca.ECDSAP256, 0, issued)
	if err != nil {
		t.Fatal(err)
	}
	inter, err := ca.NewIntermediate(root, "cluster.local", ca.ECDSAP256, 0, issued)
	if err != nil {
		t.Fatal(err)
	}
	state := func(problem string) map[string]string {
		return map[string]string{
			operatorv1alpha1.CAStateKeyMode:    "SelfSigned",
			operatorv1alpha1.CAStateKeyRoots:   string(root.CertPEM),
			operatorv1alpha1.CAStateKeyChain:   string(inter.CertPEM) + string(root.CertPEM),
			operatorv1alpha1.CAStateKeyProblem: problem,
		}
	}
	cases := []struct {
		name            string
		data            map[string]string
		now             time.Time
		ready, expiring metav1.ConditionStatus
		msg             string
	}{
		{"not published yet", nil, issued, metav1.ConditionUnknown, metav1.ConditionUnknown, "not published"},
		{"fresh", state(""), issued.Add(24 * time.Hour), metav1.ConditionTrue, metav1.ConditionFalse, "no CA certificate expires"},
		{"intermediate within 30 days", state(""), inter.Cert.NotAfter.Add(-29 * 24 * time.Hour), metav1.ConditionTrue, metav1.ConditionTrue, "signing certificate"},
		{"one day before the window", state(""), inter.Cert.NotAfter.Add(-31 * 24 * time.Hour), metav1.ConditionTrue, metav1.ConditionFalse, "no CA certificate expires"},
		{"plugged CA broken", state(`key "ca-key.pem": not PEM; the last good CA keeps signing`), issued, metav1.ConditionFalse, metav1.ConditionFalse, `"ca-key.pem"`},
		{"garbage", map[string]string{operatorv1alpha1.CAStateKeyChain: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}, issued, metav1.ConditionFalse, metav1.ConditionUnknown, "CAStateUnreadable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j := judgeCA(tc.data, tc.now)
			if j.ready != tc.ready || j.expiring != tc.expiring {
				t.Fatalf("CAReady %s (%s), CertificatesExpiring %s (%s); want %s, %s", j.ready, j.readyMsg, j.expiring, j.expiryMsg, tc.ready, tc.expiring)
			}
			if !strings.Contains(j.readyMsg+" "+j.expiryMsg+" "+j.readyReason, tc.msg) {
				t.Fatalf("messages %q / %q do not mention %q", j.readyMsg, j.expiryMsg, tc.msg)
			}
		})
	}
	j := judgeCA(state(""), issued)
	if !j.status.RootExpiresAt.Time.Equal(root.Cert.NotAfter) || !j.status.SigningCertExpiresAt.Time.Equal(inter.Cert.NotAfter) {
		t.Fatalf("status.ca %+v does not carry the root's and the intermediate's expiry", j.status)
	}
	if j.status.RootRotation != nil {
		t.Fatalf("status.ca.rootRotation = %+v with no rotation running", j.status.RootRotation)
	}
	rotating := state("")
	rotating[operatorv1alpha1.CAStateKeyRootRotationPhase] = "Distributing"
	rotating[operatorv1alpha1.CAStateKeyRootRotationMessage] = "waiting for every connected proxy"
	j = judgeCA(rotating, issued)
	if r := j.status.RootRotation; r == nil || r.Phase != "Distributing" || r.Message != "waiting for every connected proxy" {
		t.Fatalf("status.ca.rootRotation = %+v, want the published phase and message", r)
	}
}
