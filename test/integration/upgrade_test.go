package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/internal/devcluster"
	"loom.dev/loom/internal/operator"
)

func patchMesh(t *testing.T, name, patch string) {
	t.Helper()
	mesh := &operatorv1alpha1.MeshOperator{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := k8sClient.Patch(t.Context(), mesh, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		t.Fatal(err)
	}
}

func image(t *testing.T, namespace string) string {
	t.Helper()
	return controlPlane(t, namespace).Spec.Template.Spec.Containers[0].Image
}

// readyMesh creates a mesh at version 1.0.0 and waits until it is Ready.
func readyMesh(t *testing.T, name, readinessTimeout string) {
	t.Helper()
	mesh := newMesh(name)
	mesh.Spec.Version = "1.0.0"
	d, err := time.ParseDuration(readinessTimeout)
	if err != nil {
		t.Fatal(err)
	}
	mesh.Spec.UpdateStrategy.ReadinessTimeout = &metav1.Duration{Duration: d}
	createMesh(t, mesh)
	waitCondition(t, name, operatorv1alpha1.ConditionReady, metav1.ConditionTrue)
}

// unreadyUpgrade asks for 1.1.0 with pods that the local cluster never makes Ready.
const unreadyUpgrade = `{"spec":{"version":"1.1.0","values":{"controlPlane":{"podAnnotations":{"` + devcluster.UnreadyAnnotation + `":"true"}}}}}`

func TestInPlaceUpgrade(t *testing.T) {
	readyMesh(t, "upgrade", "1m")
	patchMesh(t, "upgrade", `{"spec":{"version":"1.1.0"}}`)
	got := waitCondition(t, "upgrade", operatorv1alpha1.ConditionReady, metav1.ConditionTrue)
	if got.Status.Version != "1.1.0" || image(t, "upgrade") != "loom:v1.1.0" {
		t.Errorf("after upgrade: status version %q, image %q", got.Status.Version, image(t, "upgrade"))
	}
	if c := componentNamed(t, got, "control-plane"); c.Version != "1.1.0" || !c.Ready {
		t.Errorf("component %+v", c)
	}
}

func TestFailedUpgradeRollsBackWithoutFlapping(t *testing.T) {
	readyMesh(t, "rollback", "2s")
	patchMesh(t, "rollback", unreadyUpgrade)
	assertRolledBack(t, "rollback")
	captureForArgoCD(t, "rolled-back.yaml", getMesh(t, "rollback"))

	// It does not flap: the failed generation is not applied again.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if img := image(t, "rollback"); img != "loom:v1.0.0" {
			t.Fatalf("the failed upgrade was applied again: image %s", img)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// A fixed spec is tried again and succeeds.
	patchMesh(t, "rollback", `{"spec":{"values":null}}`)
	waitCondition(t, "rollback", operatorv1alpha1.ConditionDegraded, metav1.ConditionFalse)
	got := waitCondition(t, "rollback", operatorv1alpha1.ConditionReady, metav1.ConditionTrue)
	if got.Status.Version != "1.1.0" || image(t, "rollback") != "loom:v1.1.0" {
		t.Errorf("after the fix: version %q, image %q", got.Status.Version, image(t, "rollback"))
	}
}

// TestOperatorRestartMidUpgrade restarts the operator while an upgrade is stuck: the new
// operator remembers when the attempt began and the last good spec, and rolls back.
func TestOperatorRestartMidUpgrade(t *testing.T) {
	readyMesh(t, "restart", "4s")
	patchMesh(t, "restart", unreadyUpgrade)
	waitCondition(t, "restart", operatorv1alpha1.ConditionProgressing, metav1.ConditionTrue)

	before := lease(t)
	stopOperator()
	if err := startOperator(context.Background()); err != nil {
		t.Fatal(err)
	}
	assertRolledBack(t, "restart")
	if after := lease(t); after.Spec.HolderIdentity == nil || *after.Spec.HolderIdentity == *before.Spec.HolderIdentity ||
		*after.Spec.LeaseTransitions <= *before.Spec.LeaseTransitions {
		t.Errorf("the restarted operator did not take the lease over: before %+v, after %+v", before.Spec, after.Spec)
	}
}

func assertRolledBack(t *testing.T, name string) {
	t.Helper()
	got := waitCondition(t, name, operatorv1alpha1.ConditionDegraded, metav1.ConditionTrue)
	c := meta.FindStatusCondition(got.Status.Conditions, operatorv1alpha1.ConditionDegraded)
	if c.Reason != operatorv1alpha1.ReasonRolledBack || !strings.Contains(c.Message, "rolled back to generation 1 (version 1.0.0)") ||
		!strings.Contains(c.Message, "control-plane") {
		t.Fatalf("Degraded condition %+v", c)
	}
	waitEvent(t, name, operatorv1alpha1.ReasonRolledBack, "Warning")
	got = waitCondition(t, name, operatorv1alpha1.ConditionReady, metav1.ConditionTrue)
	if got.Status.Version != "1.0.0" || image(t, name) != "loom:v1.0.0" {
		t.Errorf("after rollback: status version %q, image %q", got.Status.Version, image(t, name))
	}
	if r := meta.FindStatusCondition(got.Status.Conditions, operatorv1alpha1.ConditionReconciled); r.Status != metav1.ConditionFalse || r.Reason != operatorv1alpha1.ReasonRolledBack {
		t.Errorf("Reconciled %+v, want False/RolledBack", r)
	}
}

// TestFailedCanaryRollsBack: a new revision that never becomes Ready is removed and the
// old revision keeps serving.
func TestFailedCanaryRollsBack(t *testing.T) {
	mesh := newMesh("canary-fails")
	mesh.Spec.Version = "1.0.0"
	mesh.Spec.UpdateStrategy.Type = operatorv1alpha1.RevisionBased
	mesh.Spec.UpdateStrategy.ReadinessTimeout = &metav1.Duration{Duration: 2 * time.Second}
	createMesh(t, mesh)
	waitCondition(t, "canary-fails", operatorv1alpha1.ConditionReady, metav1.ConditionTrue)

	patchMesh(t, "canary-fails", unreadyUpgrade)
	waitCondition(t, "canary-fails", operatorv1alpha1.ConditionDegraded, metav1.ConditionTrue)
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		return !exists(t, "canary-fails", "loom-control-plane-1-1-0"), nil
	})
	if err != nil {
		t.Error("the failed revision was not removed after the rollback")
	}
	got := waitCondition(t, "canary-fails", operatorv1alpha1.ConditionReady, metav1.ConditionTrue)
	if got.Status.Revision != "1-0-0" || got.Status.Version != "1.0.0" || !exists(t, "canary-fails", "loom-control-plane-1-0-0") {
		t.Errorf("after the failed canary: revision %q version %q", got.Status.Revision, got.Status.Version)
	}
	if len(got.Status.Revisions) != 1 || got.Status.Revisions[0].Name != "1-0-0" {
		t.Errorf("status revisions %+v, want only 1-0-0", got.Status.Revisions)
	}
	waitRevisionRows(t, "canary-fails", map[string]revisionRow{"canary-fails.1-0-0": {ready: "True", inUse: "False"}})
}

// lease reads the operator's leader-election Lease.
func lease(t *testing.T) *coordinationv1.Lease {
	t.Helper()
	l := &coordinationv1.Lease{}
	if err := k8sClient.Get(t.Context(), client.ObjectKey{Namespace: operatorNamespace, Name: operator.LeaderElectionID}, l); err != nil {
		t.Fatal(err)
	}
	return l
}
