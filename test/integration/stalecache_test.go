package integration

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/controllers"
	"loom.dev/loom/pkg/apply"
	"loom.dev/loom/pkg/render"
)

// A reconcile whose cache still holds a MeshOperator that its uninstall has already released
// installs nothing: nothing would ever remove it, and the webhooks of a control plane that
// no longer exists refuse every later change to Istio config and pods.
func TestStaleCacheDoesNotReinstallAReleasedMesh(t *testing.T) {
	const name = "stale-cache"
	createMesh(t, newMesh(name))
	stale := waitCondition(t, name, operatorv1alpha1.ConditionReconciled, metav1.ConditionTrue).DeepCopy()
	deleteMesh(t, name)
	t.Cleanup(func() { removeLeftovers(t, name) })
	// Its namespace gone too, as when the deletion came before the first install.
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Name: name}, &corev1.Namespace{})), nil
	})
	if err != nil {
		t.Fatalf("namespace %s never went away: %v", name, err)
	}

	// The cache of this reconciler never saw the deletion.
	live, err := client.NewWithWatch(cluster.Config, client.Options{Scheme: k8sClient.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	cached := interceptor.NewClient(live, interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if m, ok := obj.(*operatorv1alpha1.MeshOperator); ok && key.Name == name {
				stale.DeepCopyInto(m)
				return nil
			}
			return c.Get(ctx, key, obj, opts...)
		},
	})
	renderer, err := render.New()
	if err != nil {
		t.Fatal(err)
	}
	r := &controllers.MeshOperatorReconciler{Client: cached, APIReader: k8sClient, Renderer: renderer, Applier: &apply.Applier{Client: cached}}
	_, _ = r.Reconcile(t.Context(), ctrl.Request{NamespacedName: types.NamespacedName{Name: name}})

	for _, o := range leftovers(t.Context(), t, name) {
		t.Errorf("installed for a released MeshOperator: %s %s", o.Kind, o.Name)
	}
}

var clusterScopedKinds = []schema.GroupVersionKind{
	{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "ValidatingWebhookConfigurationList"},
	{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "MutatingWebhookConfigurationList"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRoleList"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRoleBindingList"},
}

// leftovers names the cluster-scoped objects labelled as the mesh's.
func leftovers(ctx context.Context, t *testing.T, mesh string) []metav1.PartialObjectMetadata {
	t.Helper()
	var left []metav1.PartialObjectMetadata
	for _, gvk := range clusterScopedKinds {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(gvk)
		if err := k8sClient.List(ctx, list, client.MatchingLabels{controllers.LabelMesh: mesh}); err != nil {
			t.Fatal(err)
		}
		for _, o := range list.Items {
			o.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind[:len(gvk.Kind)-len("List")]))
			left = append(left, o)
		}
	}
	return left
}

func removeLeftovers(t *testing.T, mesh string) {
	for _, o := range leftovers(context.Background(), t, mesh) {
		_ = k8sClient.Delete(context.Background(), &o)
	}
	_ = k8sClient.Delete(context.Background(), &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: mesh}})
}
