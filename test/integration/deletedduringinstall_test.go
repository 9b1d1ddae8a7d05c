package integration

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// A MeshOperator deleted at any point of its first install leaves nothing behind: no
// object carrying its label, no webhook configuration calling into its namespace (one left
// behind would reject every later Istio object), and not the namespace it created.
func TestDeletedDuringFirstInstallLeavesNothing(t *testing.T) {
	for i, after := range []time.Duration{0, 50 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second} {
		name := fmt.Sprintf("deleted-early-%d", i)
		mesh := newMesh(name)
		if err := k8sClient.Create(t.Context(), mesh); err != nil {
			t.Fatal(err)
		}
		time.Sleep(after)
		deleteMesh(t, name)
		// Anything still in flight when the finalizer went would land within moments.
		time.Sleep(3 * time.Second)
		if left := managedObjects(t, name); len(left) > 0 {
			t.Errorf("deleted %s after its creation: left behind %v", after, left)
		}
		if hooks := webhooksCalling(t, name); len(hooks) > 0 {
			t.Errorf("deleted %s after its creation: webhook configurations still call namespace %s: %v", after, name, hooks)
		}
		err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Name: name}, &corev1.Namespace{})), nil
		})
		if err != nil {
			t.Errorf("deleted %s after its creation: its namespace %s stays", after, name)
		}
	}
}

// webhooksCalling lists the webhook configurations with a webhook served from namespace.
func webhooksCalling(t *testing.T, namespace string) []string {
	t.Helper()
	var found []string
	validating := &admissionregistrationv1.ValidatingWebhookConfigurationList{}
	mutating := &admissionregistrationv1.MutatingWebhookConfigurationList{}
	for _, list := range []client.ObjectList{validating, mutating} {
		if err := k8sClient.List(t.Context(), list); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range validating.Items {
		if slices.ContainsFunc(c.Webhooks, func(w admissionregistrationv1.ValidatingWebhook) bool {
			return w.ClientConfig.Service != nil && w.ClientConfig.Service.Namespace == namespace
		}) {
			found = append(found, "ValidatingWebhookConfiguration "+c.Name)
		}
	}
	for _, c := range mutating.Items {
		if slices.ContainsFunc(c.Webhooks, func(w admissionregistrationv1.MutatingWebhook) bool {
			return w.ClientConfig.Service != nil && w.ClientConfig.Service.Namespace == namespace
		}) {
			found = append(found, "MutatingWebhookConfiguration "+c.Name)
		}
	}
	return found
}
