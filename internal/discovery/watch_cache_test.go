package discovery

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestCacheDropsManagedFields: every object discovery caches, typed or Istio's
// (unstructured), is kept without its managedFields and with everything discovery reads.
func TestCacheDropsManagedFields(t *testing.T) {
	opts := cacheOptions()
	if opts.DefaultTransform == nil {
		t.Fatal("no default transform")
	}
	managed := []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply, FieldsV1: metav1.NewFieldsV1(`{"f:spec":{}}`)}}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "reviews", Namespace: "shop", ManagedFields: managed,
		Annotations: map[string]string{"networking.istio.io/exportTo": "."}, Labels: map[string]string{"app": "reviews"}},
		Spec: corev1.ServiceSpec{ClusterIP: "10.0.0.7"}}
	out, err := opts.DefaultTransform(svc)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*corev1.Service)
	if got.ManagedFields != nil || got.Annotations["networking.istio.io/exportTo"] != "." || got.Labels["app"] != "reviews" || got.Spec.ClusterIP != "10.0.0.7" {
		t.Errorf("cached Service: %+v", got)
	}

	vs := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
		"metadata": map[string]any{"name": "reviews", "namespace": "shop",
			"annotations":   map[string]any{"istio.io/dry-run": "false"},
			"managedFields": []any{map[string]any{"manager": "kubectl", "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": map[string]any{"f:spec": map[string]any{}}}}},
		"spec": map[string]any{"hosts": []any{"reviews"}},
	}}
	out, err = opts.DefaultTransform(vs)
	if err != nil {
		t.Fatal(err)
	}
	u := out.(*unstructured.Unstructured)
	if _, found, _ := unstructured.NestedFieldNoCopy(u.Object, "metadata", "managedFields"); found {
		t.Error("a cached Istio object keeps its managedFields")
	}
	if hosts, _, _ := unstructured.NestedStringSlice(u.Object, "spec", "hosts"); len(hosts) != 1 || u.GetAnnotations()["istio.io/dry-run"] != "false" {
		t.Errorf("cached VirtualService lost what discovery reads: %v", u.Object)
	}

	for obj, by := range opts.ByObject {
		if by.Transform == nil {
			t.Errorf("%T: no transform", obj)
		}
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", ManagedFields: managed}}
	trimmed, _ := trimPod(pod)
	if trimmed.(*corev1.Pod).ManagedFields != nil {
		t.Error("a cached pod keeps its managedFields")
	}
}
