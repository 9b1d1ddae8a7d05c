package integration

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"loom.dev/loom/pkg/apply"
)

// An object applied with a resourceVersion is applied only while the live object still has
// it: the operator decides on a copy (is this CRD Loom's?) and must not act on a stale one.
func TestApplyWithResourceVersionIsConditional(t *testing.T) {
	ctx := t.Context()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "conditional-apply"}, Data: map[string]string{"a": "1"}}
	if err := k8sClient.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8sClient.Delete(ctx, cm) })
	decidedOn := cm.ResourceVersion
	cm.Data["a"] = "changed by someone else"
	if err := k8sClient.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}

	applier := &apply.Applier{Client: k8sClient}
	render := func(resourceVersion string) *unstructured.Unstructured {
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&corev1.ConfigMap{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "conditional-apply", ResourceVersion: resourceVersion},
			Data:       map[string]string{"b": "2"},
		})
		if err != nil {
			t.Fatal(err)
		}
		return &unstructured.Unstructured{Object: u}
	}
	if err := applier.Apply(ctx, []*unstructured.Unstructured{render(decidedOn)}); !apierrors.IsConflict(err) {
		t.Fatalf("apply on a stale resourceVersion: got %v, want a Conflict", err)
	}
	live := &corev1.ConfigMap{}
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(cm), live); err != nil {
		t.Fatal(err)
	}
	if _, applied := live.Data["b"]; applied {
		t.Fatal("the apply on a stale resourceVersion changed the object")
	}
	if err := applier.Apply(ctx, []*unstructured.Unstructured{render(live.ResourceVersion)}); err != nil {
		t.Fatalf("apply on the live resourceVersion: %v", err)
	}
	if err := applier.Apply(ctx, []*unstructured.Unstructured{render("")}); err != nil {
		t.Fatalf("unconditional apply: %v", err)
	}
}
