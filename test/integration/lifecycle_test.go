package integration

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/controllers"
)

// waitCondition waits until a condition has the status for the mesh's current generation.
func waitCondition(t *testing.T, name, condType string, want metav1.ConditionStatus) *operatorv1alpha1.MeshOperator {
	t.Helper()
	mesh := &operatorv1alpha1.MeshOperator{}
	err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := k8sClient.Get(ctx, client.ObjectKey{Name: name}, mesh); err != nil {
			return false, err
		}
		c := meta.FindStatusCondition(mesh.Status.Conditions, condType)
		return c != nil && c.Status == want && c.ObservedGeneration == mesh.Generation, nil
	})
	if err != nil {
		t.Fatalf("MeshOperator %s: condition %s never became %s: %v\nstatus: %+v", name, condType, want, err, mesh.Status)
	}
	return mesh
}

func createMesh(t *testing.T, mesh *operatorv1alpha1.MeshOperator) {
	t.Helper()
	if err := k8sClient.Create(t.Context(), mesh); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteMesh(t, mesh.Name) })
}

// deleteMesh deletes a mesh and waits until the operator has released it.
func deleteMesh(t *testing.T, name string) {
	t.Helper()
	ctx := context.Background()
	_ = k8sClient.Delete(ctx, &operatorv1alpha1.MeshOperator{ObjectMeta: metav1.ObjectMeta{Name: name}})
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		err := k8sClient.Get(ctx, client.ObjectKey{Name: name}, &operatorv1alpha1.MeshOperator{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Errorf("MeshOperator %s was never released after deletion", name)
	}
}

func componentNamed(t *testing.T, mesh *operatorv1alpha1.MeshOperator, name string) operatorv1alpha1.ComponentStatus {
	t.Helper()
	for _, c := range mesh.Status.Components {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no component %s in %+v", name, mesh.Status.Components)
	return operatorv1alpha1.ComponentStatus{}
}

func controlPlane(t *testing.T, namespace string) *appsv1.Deployment {
	t.Helper()
	d := &appsv1.Deployment{}
	if err := k8sClient.Get(t.Context(), client.ObjectKey{Namespace: namespace, Name: "loom-control-plane"}, d); err != nil {
		t.Fatal(err)
	}
	return d
}

// managedObjects lists what carries the mesh's ownership label, across every managed kind.
func managedObjects(t *testing.T, mesh string) []string {
	t.Helper()
	var found []string
	for _, gvk := range controllers.ManagedKinds() {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := k8sClient.List(t.Context(), list, client.MatchingLabels{controllers.LabelMesh: mesh}); err != nil {
			t.Fatal(err)
		}
		for _, o := range list.Items {
			found = append(found, gvk.Kind+" "+o.GetNamespace()+"/"+o.GetName())
		}
	}
	return found
}

func TestInstallToReadyThenUninstall(t *testing.T) {
	start := time.Now()
	mesh := newMesh("install")
	mesh.Spec.Version = "1.0.0"
	createMesh(t, mesh)
	got := waitCondition(t, "install", operatorv1alpha1.ConditionReady, metav1.ConditionTrue)
	t.Logf("apply -> Ready took %s", time.Since(start))
	captureForArgoCD(t, "ready.yaml", got)

	if got.Status.Version != "1.0.0" || got.Status.Revision != "default" {
		t.Errorf("status version %q revision %q", got.Status.Version, got.Status.Revision)
	}
	if len(got.Status.Components) != 2 || got.Status.Components[0].Name != "istio-crds" || !got.Status.Components[0].Ready {
		t.Fatalf("components %+v, want istio-crds then control-plane", got.Status.Components)
	}
	if c := componentNamed(t, got, "control-plane"); c.Name != "control-plane" || !c.Ready || c.ReadyReplicas != 1 || c.DesiredReplicas != 1 || c.Version != "1.0.0" {
		t.Errorf("control-plane component %+v", c)
	}
	for _, cond := range []string{operatorv1alpha1.ConditionReconciled, operatorv1alpha1.ConditionReady} {
		if !meta.IsStatusConditionTrue(got.Status.Conditions, cond) {
			t.Errorf("%s not True: %+v", cond, got.Status.Conditions)
		}
	}
	for _, cond := range []string{operatorv1alpha1.ConditionProgressing, operatorv1alpha1.ConditionDegraded} {
		if !meta.IsStatusConditionFalse(got.Status.Conditions, cond) {
			t.Errorf("%s not False: %+v", cond, got.Status.Conditions)
		}
	}
	waitEvent(t, "install", operatorv1alpha1.ReasonReady, "Normal")
	if v, ok := componentGauge(t, "install", "control-plane"); !ok || v != 1 {
		t.Errorf("loom_operator_component_ready for the control plane: %v (present %v), want 1", v, ok)
	}
	d := controlPlane(t, "install")
	if d.Labels[controllers.LabelMesh] != "install" || d.Labels[controllers.LabelComponent] != "control-plane" {
		t.Errorf("control plane labels %v", d.Labels)
	}
	if img := d.Spec.Template.Spec.Containers[0].Image; img != "loom:v1.0.0" {
		t.Errorf("image %q", img)
	}
	want := []string{
		"ServiceAccount install/loom-control-plane", "ConfigMap install/loom-control-plane-mesh", "ConfigMap install/loom-operator-state-install",
		"ClusterRole /loom-control-plane-install", "ClusterRoleBinding /loom-control-plane-install",
		"Role install/loom-control-plane-ca", "Role install/loom-control-plane-status",
		"RoleBinding install/loom-control-plane-ca", "RoleBinding install/loom-control-plane-status",
		"Service install/loom-control-plane", "Deployment install/loom-control-plane",
		"MutatingWebhookConfiguration /loom-control-plane-install-injector",
		"ValidatingWebhookConfiguration /loom-control-plane-install-validator",
	}
	if got := managedObjects(t, "install"); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("managed objects %v, want %v", got, want)
	}

	deleteMesh(t, "install")
	if _, ok := componentGauge(t, "install", "control-plane"); ok {
		t.Error("readiness gauge kept after uninstall")
	}
	if left := managedObjects(t, "install"); len(left) > 0 {
		t.Errorf("uninstall left %v", left)
	}
	ns := &corev1.Namespace{}
	err := k8sClient.Get(t.Context(), client.ObjectKey{Name: "install"}, ns)
	if err == nil && ns.DeletionTimestamp.IsZero() {
		t.Error("the namespace the operator created was not deleted")
	}
	crd := &unstructured.Unstructured{}
	crd.SetAPIVersion("apiextensions.k8s.io/v1")
	crd.SetKind("CustomResourceDefinition")
	if err := k8sClient.Get(t.Context(), client.ObjectKey{Name: "meshoperators.operator.loom.dev"}, crd); err != nil {
		t.Errorf("CRD gone after uninstall: %v", err)
	}
}

func TestUserNamespaceIsKeptOnUninstall(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "users-own"}}
	if err := k8sClient.Create(t.Context(), ns); err != nil {
		t.Fatal(err)
	}
	// Registered first, so it runs after the mesh is released.
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), ns) })
	createMesh(t, newMesh("users-own"))
	waitCondition(t, "users-own", operatorv1alpha1.ConditionReady, metav1.ConditionTrue)
	deleteMesh(t, "users-own")
	if err := k8sClient.Get(t.Context(), client.ObjectKey{Name: "users-own"}, ns); err != nil || !ns.DeletionTimestamp.IsZero() {
		t.Errorf("user's namespace removed: %v", err)
	}
}

func TestDriftIsRepaired(t *testing.T) {
	createMesh(t, newMesh("drift"))
	waitCondition(t, "drift", operatorv1alpha1.ConditionReady, metav1.ConditionTrue)
	ctx := t.Context()

	// Someone else's field is left alone; the operator's fields are restored.
	patch := []byte(`{"metadata":{"annotations":{"team.example/owner":"platform"}},"spec":{"template":{"spec":{"containers":[{"name":"discovery","image":"evil:latest"}]}}}}`)
	d := controlPlane(t, "drift")
	if err := k8sClient.Patch(ctx, d, client.RawPatch(types.StrategicMergePatchType, patch), client.FieldOwner("someone-else")); err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "drift", Name: "loom-control-plane-mesh"}}
	if err := k8sClient.Delete(ctx, cm); err != nil {
		t.Fatal(err)
	}

	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		d := &appsv1.Deployment{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: "drift", Name: "loom-control-plane"}, d); err != nil {
			return false, err
		}
		restored := k8sClient.Get(ctx, client.ObjectKeyFromObject(cm), &corev1.ConfigMap{}) == nil
		return restored && d.Spec.Template.Spec.Containers[0].Image == "loom:v1.1.0", nil
	})
	if err != nil {
		t.Fatalf("drift not repaired within 10s: %v", err)
	}
	if d := controlPlane(t, "drift"); d.Annotations["team.example/owner"] != "platform" {
		t.Errorf("another manager's annotation was removed: %v", d.Annotations)
	}

	// A deleted Deployment comes back.
	if err := k8sClient.Delete(ctx, controlPlane(t, "drift")); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		d := &appsv1.Deployment{}
		err := k8sClient.Get(ctx, client.ObjectKey{Namespace: "drift", Name: "loom-control-plane"}, d)
		return err == nil && d.DeletionTimestamp.IsZero(), nil
	})
	if err != nil {
		t.Fatalf("deleted control-plane Deployment not restored within 10s: %v", err)
	}
	waitCondition(t, "drift", operatorv1alpha1.ConditionReady, metav1.ConditionTrue)
}

func TestInvalidValuesAreReportedAndFixable(t *testing.T) {
	mesh := newMesh("bad-values")
	if err := json.Unmarshal([]byte(`{"controlPlane": {"replicas": "three"}}`), &mesh.Spec.Values); err != nil {
		t.Fatal(err)
	}
	createMesh(t, mesh)
	got := waitCondition(t, "bad-values", operatorv1alpha1.ConditionReconciled, metav1.ConditionFalse)
	captureForArgoCD(t, "invalid-values.yaml", got)
	c := meta.FindStatusCondition(got.Status.Conditions, operatorv1alpha1.ConditionReconciled)
	if c.Reason != operatorv1alpha1.ReasonInvalidValues || !strings.Contains(c.Message, "replicas") || !strings.Contains(c.Message, "control-plane") {
		t.Errorf("condition %+v should name the chart and the field", c)
	}
	if !meta.IsStatusConditionTrue(got.Status.Conditions, operatorv1alpha1.ConditionDegraded) {
		t.Errorf("Degraded not True: %+v", got.Status.Conditions)
	}
	patchMesh(t, "bad-values", `{"spec":{"values":{"controlPlane":{"replicas":2}}}}`)
	got = waitCondition(t, "bad-values", operatorv1alpha1.ConditionReady, metav1.ConditionTrue)
	if c := componentNamed(t, got, "control-plane"); c.ReadyReplicas != 2 {
		t.Errorf("component %+v, want 2 ready replicas", c)
	}
}

func TestOneMeshPerNamespace(t *testing.T) {
	first := newMesh("first")
	first.Spec.Namespace = "shared"
	createMesh(t, first)
	waitCondition(t, "first", operatorv1alpha1.ConditionReady, metav1.ConditionTrue)

	second := newMesh("second")
	second.Spec.Namespace = "shared"
	createMesh(t, second)
	got := waitCondition(t, "second", operatorv1alpha1.ConditionReconciled, metav1.ConditionFalse)
	captureForArgoCD(t, "namespace-conflict.yaml", got)
	c := meta.FindStatusCondition(got.Status.Conditions, operatorv1alpha1.ConditionReconciled)
	if c.Reason != operatorv1alpha1.ReasonNamespaceConflict || !strings.Contains(c.Message, "owned by MeshOperator first") {
		t.Errorf("second mesh condition %+v", c)
	}

	deleteMesh(t, "first")
	waitCondition(t, "second", operatorv1alpha1.ConditionReady, metav1.ConditionTrue)
}

func TestProfileChangeAddsAndPrunes(t *testing.T) {
	createMesh(t, newMesh("profiles"))
	waitCondition(t, "profiles", operatorv1alpha1.ConditionReady, metav1.ConditionTrue)
	hasKind := func(kind string) bool {
		for _, o := range managedObjects(t, "profiles") {
			if strings.HasPrefix(o, kind+" ") {
				return true
			}
		}
		return false
	}
	setProfile := func(profile string) {
		t.Helper()
		patchMesh(t, "profiles", `{"spec":{"profile":"`+profile+`"}}`)
		waitCondition(t, "profiles", operatorv1alpha1.ConditionReconciled, metav1.ConditionTrue)
	}
	setProfile("production")
	if !hasKind("HorizontalPodAutoscaler") || !hasKind("PodDisruptionBudget") {
		t.Fatalf("production profile lacks HPA or PDB: %v", managedObjects(t, "profiles"))
	}
	setProfile("minimal")
	if hasKind("HorizontalPodAutoscaler") || hasKind("PodDisruptionBudget") {
		t.Errorf("minimal profile kept HPA or PDB: %v", managedObjects(t, "profiles"))
	}
}
