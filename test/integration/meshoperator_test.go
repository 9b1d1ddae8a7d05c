package integration

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

func newMesh(name string) *operatorv1alpha1.MeshOperator {
	return &operatorv1alpha1.MeshOperator{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

// waitReconciled waits until the Reconciled condition reports the mesh's current generation.
func waitReconciled(t *testing.T, name string) *operatorv1alpha1.MeshOperator {
	t.Helper()
	mesh := &operatorv1alpha1.MeshOperator{}
	err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := k8sClient.Get(ctx, client.ObjectKey{Name: name}, mesh); err != nil {
			return false, err
		}
		cond := meta.FindStatusCondition(mesh.Status.Conditions, operatorv1alpha1.ConditionReconciled)
		return mesh.Status.ObservedGeneration == mesh.Generation &&
			cond != nil && cond.Status == metav1.ConditionTrue && cond.ObservedGeneration == mesh.Generation, nil
	})
	if err != nil {
		t.Fatalf("MeshOperator %s not reconciled: %v (status %+v)", name, err, mesh.Status)
	}
	return mesh
}

func TestMeshOperatorIsReconciledWithDefaults(t *testing.T) {
	ctx := t.Context()
	mesh := newMesh("defaults")
	if err := k8sClient.Create(ctx, mesh); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), mesh) })

	got := waitReconciled(t, "defaults")
	if got.Spec.Profile != "default" || got.Spec.Namespace != "loom-system" {
		t.Errorf("defaults not applied by the CRD: profile %q namespace %q", got.Spec.Profile, got.Spec.Namespace)
	}

	got.Spec.Version = "1.0.0"
	if err := k8sClient.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	if updated := waitReconciled(t, "defaults"); updated.Status.ObservedGeneration != 2 {
		t.Errorf("observedGeneration %d after one spec change, want 2", updated.Status.ObservedGeneration)
	}
}

func TestInvalidSpecIsRejectedNamingTheField(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spec  operatorv1alpha1.MeshOperatorSpec
		field string
	}{
		{"bad-profile", operatorv1alpha1.MeshOperatorSpec{Profile: "huge"}, "spec.profile"},
		{"bad-namespace", operatorv1alpha1.MeshOperatorSpec{Namespace: "Not_A_Namespace"}, "spec.namespace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mesh := newMesh(tc.name)
			mesh.Spec = tc.spec
			err := k8sClient.Create(t.Context(), mesh)
			if err == nil {
				_ = k8sClient.Delete(context.Background(), mesh)
				t.Fatalf("apiserver accepted invalid spec %+v", tc.spec)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error does not name %s: %v", tc.field, err)
			}
		})
	}
}

func TestKubectlGetMeshShowsState(t *testing.T) {
	mesh := newMesh("printed")
	mesh.Spec.Version = "1.0.0"
	if err := k8sClient.Create(t.Context(), mesh); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), mesh) })
	waitReconciled(t, "printed")

	out, err := exec.CommandContext(t.Context(), cluster.Kubectl(), "--kubeconfig", cluster.KubeconfigPath, "get", "mesh", "printed").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl get mesh: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		t.Fatalf("kubectl get mesh printed %q", out)
	}
	if header := strings.Fields(lines[0]); strings.Join(header, " ") != "NAME VERSION PROFILE RECONCILED AGE" {
		t.Errorf("columns %v", header)
	}
	if row := strings.Fields(lines[1]); len(row) != 5 || row[0] != "printed" || row[1] != "1.0.0" || row[2] != "default" || row[3] != "True" {
		t.Errorf("row %v", row)
	}
}
