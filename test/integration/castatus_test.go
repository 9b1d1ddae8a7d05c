package integration

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/pkg/ca"
)

// TestCAStateInStatus: what the control plane publishes about its CA (the ConfigMap
// loom-ca-state, written here as the control plane would) becomes status.ca and the
// CAReady and CertificatesExpiring conditions, with a Warning event when it goes wrong.
func TestCAStateInStatus(t *testing.T) {
	const name = "ca-status"
	createMesh(t, newMesh(name))
	waitCondition(t, name, operatorv1alpha1.ConditionCAReady, metav1.ConditionUnknown)

	now := time.Now()
	root, err := ca.NewRoot("cluster.local", ca.ECDSAP256, 0, now)
	if err != nil {
		t.Fatal(err)
	}
	inter, err := ca.NewIntermediate(root, "cluster.local", ca.ECDSAP256, 10*24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	state := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: operatorv1alpha1.CAStateConfigMap},
		Data: map[string]string{
			operatorv1alpha1.CAStateKeyMode:  "Plugged",
			operatorv1alpha1.CAStateKeyRoots: string(root.CertPEM),
			operatorv1alpha1.CAStateKeyChain: string(inter.CertPEM) + string(root.CertPEM),
		},
	}
	// The operator creates the mesh namespace; the ConfigMap goes in once it exists.
	err = wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		return k8sClient.Create(ctx, state.DeepCopy()) == nil, nil
	})
	if err != nil {
		t.Fatalf("creating %s in namespace %s: %v", state.Name, name, err)
	}
	if err := k8sClient.Get(t.Context(), client.ObjectKeyFromObject(state), state); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, name, operatorv1alpha1.ConditionCAReady, metav1.ConditionTrue)
	mesh := waitCondition(t, name, operatorv1alpha1.ConditionCertificatesExpiring, metav1.ConditionTrue)
	if st := mesh.Status.CA; st == nil || st.Mode != operatorv1alpha1.CAPlugged ||
		!st.SigningCertExpiresAt.Time.Equal(inter.Cert.NotAfter.Truncate(time.Second)) || !st.RootExpiresAt.Time.Equal(root.Cert.NotAfter.Truncate(time.Second)) {
		t.Fatalf("status.ca %+v, want mode Plugged and the intermediate's and root's expiry", st)
	}
	if c := meta.FindStatusCondition(mesh.Status.Conditions, operatorv1alpha1.ConditionCertificatesExpiring); !strings.Contains(c.Message, "signing certificate") {
		t.Fatalf("CertificatesExpiring message %q does not name the signing certificate", c.Message)
	}
	waitEvent(t, name, "ExpiresWithin30Days", corev1.EventTypeWarning)

	state.Data[operatorv1alpha1.CAStateKeyProblem] = `plugged CA secret ca-status/cacerts: key "ca-key.pem": key does not match ca-cert.pem; the last good CA keeps signing`
	if err := k8sClient.Update(t.Context(), state); err != nil {
		t.Fatal(err)
	}
	mesh = waitCondition(t, name, operatorv1alpha1.ConditionCAReady, metav1.ConditionFalse)
	if c := meta.FindStatusCondition(mesh.Status.Conditions, operatorv1alpha1.ConditionCAReady); !strings.Contains(c.Message, `"ca-key.pem"`) {
		t.Fatalf("CAReady message %q does not name the key", c.Message)
	}
	waitEvent(t, name, "CAMaterialInvalid", corev1.EventTypeWarning)
}

// TestCertManagerModeInstalls: a mesh whose CA is a cert-manager issuer installs with the
// operator's own RBAC (which must hold what the control plane's Role grants), and the control
// plane is told the issuer.
func TestCertManagerModeInstalls(t *testing.T) {
	const name = "ca-cert-manager"
	mesh := newMesh(name)
	mesh.Spec.Security.CA = operatorv1alpha1.CASpec{Mode: operatorv1alpha1.CACertManager,
		CertManager: &operatorv1alpha1.CertManagerCASpec{IssuerRef: operatorv1alpha1.IssuerReference{Name: "mesh-issuer", Kind: "ClusterIssuer"}}}
	createMesh(t, mesh)
	waitCondition(t, name, operatorv1alpha1.ConditionReady, metav1.ConditionTrue)
	args := strings.Join(controlPlane(t, name).Spec.Template.Spec.Containers[0].Args, " ")
	for _, want := range []string{"--ca-mode=CertManager", "--ca-issuer-name=mesh-issuer", "--ca-issuer-kind=ClusterIssuer"} {
		if !strings.Contains(args, want) {
			t.Errorf("control plane args %q lack %s", args, want)
		}
	}
	role := &rbacv1.Role{}
	if err := k8sClient.Get(t.Context(), client.ObjectKey{Namespace: name, Name: "loom-control-plane-ca"}, role); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(role.Rules, func(r rbacv1.PolicyRule) bool { return slices.Contains(r.Resources, "certificaterequests") }) {
		t.Errorf("the control plane's Role %v does not let it create CertificateRequests", role.Rules)
	}
}
