package integration

import (
	"bytes"
	"context"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	admissionregistrationv1ac "k8s.io/client-go/applyconfigurations/admissionregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/controllers"
	"loom.dev/loom/pkg/ca"
)

// TestInjectorWebhookGetsTheMeshRoot: the operator installs the control plane's injector and
// validator configurations and writes the root the control plane publishes (the CA state ConfigMap,
// written here as the control plane would) into every webhook's caBundle, under a field
// manager of its own: re-applying the configuration without caBundle, as a GitOps tool
// would, keeps it; a deleted configuration comes back with it; a new root replaces it.
func TestInjectorWebhookGetsTheMeshRoot(t *testing.T) {
	const name = "webhook-ca"
	createMesh(t, newMesh(name))
	cfgName := "loom-control-plane-" + name + "-injector"

	first := newRootPEM(t)
	state := publishCARoot(t, name, first)
	waitCABundle(t, cfgName, first)
	waitValidatorCABundle(t, "loom-control-plane-"+name+"-validator", first)

	// A GitOps tool re-applies the rendered configuration, which has no caBundle.
	cfg := &admissionregistrationv1.MutatingWebhookConfiguration{}
	if err := k8sClient.Get(t.Context(), client.ObjectKey{Name: cfgName}, cfg); err != nil {
		t.Fatal(err)
	}
	gitops := admissionregistrationv1ac.MutatingWebhookConfiguration(cfgName)
	for _, w := range cfg.Webhooks {
		gitops.WithWebhooks(admissionregistrationv1ac.MutatingWebhook().WithName(w.Name).WithTimeoutSeconds(10))
	}
	if err := k8sClient.Apply(t.Context(), gitops, client.FieldOwner("argocd-controller"), client.ForceOwnership); err != nil {
		t.Fatal(err)
	}
	waitCABundle(t, cfgName, first)
	if err := k8sClient.Get(t.Context(), client.ObjectKey{Name: cfgName}, cfg); err != nil {
		t.Fatal(err)
	}
	for _, f := range cfg.ManagedFields {
		if f.Manager == controllers.WebhookCABundleFieldManager && f.Operation != metav1.ManagedFieldsOperationApply {
			t.Errorf("caBundle written by %s, want server-side apply", f.Operation)
		}
	}

	if err := k8sClient.Delete(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	waitCABundle(t, cfgName, first)

	second := newRootPEM(t)
	if err := k8sClient.Get(t.Context(), client.ObjectKeyFromObject(state), state); err != nil {
		t.Fatal(err)
	}
	state.Data[operatorv1alpha1.CAStateKeyRoots] = string(second)
	if err := k8sClient.Update(t.Context(), state); err != nil {
		t.Fatal(err)
	}
	waitCABundle(t, cfgName, second)
	waitValidatorCABundle(t, "loom-control-plane-"+name+"-validator", second)
}

func newRootPEM(t *testing.T) []byte {
	t.Helper()
	r, err := ca.NewRoot("cluster.local", ca.ECDSAP256, 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return r.CertPEM
}

// publishCARoot writes the mesh's CA state ConfigMap in namespace as its control plane would,
// once the namespace exists.
func publishCARoot(t *testing.T, namespace string, root []byte) *corev1.ConfigMap {
	t.Helper()
	state := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: operatorv1alpha1.CAStateConfigMap},
		Data:       map[string]string{operatorv1alpha1.CAStateKeyMode: "SelfSigned", operatorv1alpha1.CAStateKeyRoots: string(root)},
	}
	err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		return k8sClient.Create(ctx, state.DeepCopy()) == nil, nil
	})
	if err != nil {
		t.Fatalf("creating %s in namespace %s: %v", state.Name, namespace, err)
	}
	return state
}

// waitValidatorCABundle waits until every webhook of the validating configuration carries bundle.
func waitValidatorCABundle(t *testing.T, name string, bundle []byte) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Name: name}, cfg); err != nil || len(cfg.Webhooks) == 0 {
			return false, nil
		}
		for _, w := range cfg.Webhooks {
			if !bytes.Equal(w.ClientConfig.CABundle, bundle) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("ValidatingWebhookConfiguration %s never carried the mesh root in every webhook: %v", name, err)
	}
}

// waitCABundle waits until every webhook of the configuration carries bundle.
func waitCABundle(t *testing.T, name string, bundle []byte) {
	t.Helper()
	var last *admissionregistrationv1.MutatingWebhookConfiguration
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		cfg := &admissionregistrationv1.MutatingWebhookConfiguration{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Name: name}, cfg); err != nil {
			return false, nil
		}
		last = cfg
		if len(cfg.Webhooks) == 0 {
			return false, nil
		}
		for _, w := range cfg.Webhooks {
			if !bytes.Equal(w.ClientConfig.CABundle, bundle) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("MutatingWebhookConfiguration %s never carried the mesh root in every webhook: %v\nlast seen: %+v", name, err, last)
	}
}
