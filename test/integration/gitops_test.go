package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

// argoCD is the field manager Argo CD's server-side apply uses.
const argoCD = "argocd-controller"

// What a user keeps in Git and Argo CD applies with server-side apply is never rewritten by
// Loom: after the mesh is installed and reconciled again, the user's manager alone owns the
// spec of the MeshOperator and of the Istio config, a re-apply of the same manifests changes
// nothing (no drift loop), and the spec is as written.
func TestGitOpsAppliedObjectsAreNotRewritten(t *testing.T) {
	const name = "gitops"
	mesh := gitopsApply(t, `
apiVersion: operator.loom.dev/v1alpha1
kind: MeshOperator
metadata: {name: gitops}
spec:
  namespace: gitops
  profile: default
  meshConfig:
    outboundTrafficPolicy: REGISTRY_ONLY
    defaultTimeout: 7s
`)
	t.Cleanup(func() { deleteMesh(t, name) })
	waitCondition(t, name, operatorv1alpha1.ConditionReady, metav1.ConditionTrue)
	waitIstioCRDsEstablished(t)
	vs := gitopsApply(t, `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: gitops}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 80
    - destination: {host: reviews, subset: v2}
      weight: 20
`)

	// Another reconcile of the mesh, woken by a label someone else sets.
	label := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"team":"platform"}}}`))
	if err := k8sClient.Patch(t.Context(), &operatorv1alpha1.MeshOperator{ObjectMeta: metav1.ObjectMeta{Name: name}}, label, client.FieldOwner("someone-else")); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, name, operatorv1alpha1.ConditionReady, metav1.ConditionTrue)
	time.Sleep(2 * time.Second) // what a reconcile in flight would write, it has written

	for _, applied := range []*unstructured.Unstructured{mesh, vs} {
		checkOwnedByUserAlone(t, applied)
		before := applied.GetGeneration()
		again := gitopsApplyObject(t, applied)
		if again.GetGeneration() != before {
			t.Errorf("%s %s: re-applying the same manifest moved generation %d -> %d: a drift loop", applied.GetKind(), applied.GetName(), before, again.GetGeneration())
		}
	}
}

func gitopsApply(t *testing.T, manifest string) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(manifest), &obj.Object); err != nil {
		t.Fatal(err)
	}
	return gitopsApplyObject(t, obj)
}

// gitopsApplyObject applies the object's manifest (its spec and name) as Argo CD does and
// returns the object as stored.
func gitopsApplyObject(t *testing.T, obj *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	manifest := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": obj.GetAPIVersion(), "kind": obj.GetKind(),
		"metadata": map[string]any{"name": obj.GetName(), "namespace": obj.GetNamespace()},
		"spec":     obj.Object["spec"],
	}}
	if obj.GetNamespace() == "" {
		unstructured.RemoveNestedField(manifest.Object, "metadata", "namespace")
	}
	var stored *unstructured.Unstructured
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		if k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(manifest.DeepCopy()), client.FieldOwner(argoCD), client.ForceOwnership) != nil {
			return false, nil
		}
		stored = &unstructured.Unstructured{}
		stored.SetGroupVersionKind(manifest.GroupVersionKind())
		return k8sClient.Get(ctx, client.ObjectKeyFromObject(manifest), stored) == nil, nil
	})
	if err != nil {
		t.Fatalf("applying %s %s as %s: %v", obj.GetKind(), obj.GetName(), argoCD, err)
	}
	return stored
}

// checkOwnedByUserAlone checks that no manager but Argo CD's owns a field of the spec, and
// that the stored spec still holds every value applied.
func checkOwnedByUserAlone(t *testing.T, applied *unstructured.Unstructured) {
	t.Helper()
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(applied.GroupVersionKind())
	if err := k8sClient.Get(t.Context(), client.ObjectKeyFromObject(applied), live); err != nil {
		t.Fatal(err)
	}
	userOwns := false
	for _, f := range live.GetManagedFields() {
		if f.Subresource != "" || f.FieldsV1 == nil {
			continue
		}
		ownsSpec := strings.Contains(f.FieldsV1.GetRawString(), `"f:spec"`)
		switch {
		case f.Manager == argoCD && f.Operation == metav1.ManagedFieldsOperationApply:
			userOwns = ownsSpec
		case ownsSpec:
			t.Errorf("%s %s: manager %s (%s) owns spec fields the user applied: %s", applied.GetKind(), applied.GetName(), f.Manager, f.Operation, f.FieldsV1.GetRawString())
		}
	}
	if !userOwns {
		t.Errorf("%s %s: %s no longer owns the spec it applied", applied.GetKind(), applied.GetName(), argoCD)
	}
	if !containsAll(live.Object["spec"], applied.Object["spec"]) {
		t.Errorf("%s %s: spec %v, applied %v", applied.GetKind(), applied.GetName(), live.Object["spec"], applied.Object["spec"])
	}
}

// containsAll reports whether got holds every value of want (defaults may add more).
func containsAll(got, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range w {
			if !containsAll(g[k], v) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !containsAll(g[i], w[i]) {
				return false
			}
		}
		return true
	}
	return got == want
}
