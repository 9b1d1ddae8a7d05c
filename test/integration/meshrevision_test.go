package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/controllers"
)

// meshRevisions lists a mesh's MeshRevisions by revision name.
func meshRevisions(ctx context.Context, t *testing.T, mesh string) map[string]operatorv1alpha1.MeshRevision {
	t.Helper()
	list := &operatorv1alpha1.MeshRevisionList{}
	if err := k8sClient.List(ctx, list, client.MatchingLabels{controllers.LabelMesh: mesh}); err != nil {
		t.Fatal(err)
	}
	revs := map[string]operatorv1alpha1.MeshRevision{}
	for _, mr := range list.Items {
		revs[mr.Spec.Revision] = mr
	}
	return revs
}

// revisionRow is what `kubectl get meshrevisions` shows of one MeshRevision.
type revisionRow struct{ ready, inUse string }

// revisionRows reads the conditions the printer columns show, by MeshRevision name.
func revisionRows(revs map[string]operatorv1alpha1.MeshRevision) map[string]revisionRow {
	rows := map[string]revisionRow{}
	for _, mr := range revs {
		row := revisionRow{}
		if c := meta.FindStatusCondition(mr.Status.Conditions, operatorv1alpha1.ConditionReady); c != nil {
			row.ready = string(c.Status)
		}
		if c := meta.FindStatusCondition(mr.Status.Conditions, operatorv1alpha1.ConditionInUse); c != nil {
			row.inUse = string(c.Status)
		}
		rows[mr.Name] = row
	}
	return rows
}

// waitRevisionRows waits until the mesh's MeshRevisions are exactly want, by name.
func waitRevisionRows(t *testing.T, mesh string, want map[string]revisionRow) map[string]operatorv1alpha1.MeshRevision {
	t.Helper()
	var revs map[string]operatorv1alpha1.MeshRevision
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		revs = meshRevisions(ctx, t, mesh)
		return fmt.Sprint(revisionRows(revs)) == fmt.Sprint(want), nil
	})
	if err != nil {
		t.Fatalf("MeshRevisions of %s: got %v, want %v", mesh, revisionRows(revs), want)
	}
	return revs
}

// kubectlRevisions runs `kubectl get meshrevisions` for a mesh and returns its rows without
// the age: name, version, ready, in use.
func kubectlRevisions(t *testing.T, mesh string) []string {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), cluster.Kubectl(), "--kubeconfig", cluster.KubeconfigPath,
		"get", "meshrevisions", "-l", controllers.LabelMesh+"="+mesh).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl get meshrevisions: %v\n%s", err, out)
	}
	var rows []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			t.Fatalf("kubectl get meshrevisions: row %q", line)
		}
		rows = append(rows, strings.Join(f[:len(f)-1], " "))
	}
	sort.Strings(rows[1:])
	return rows
}

// TestRevisionsMigrateFromTheStateConfigMap: a mesh in the middle of a canary, whose
// revisions the ConfigMap of an older operator holds, gets MeshRevisions and the upgrade
// goes on; uninstall removes them.
func TestRevisionsMigrateFromTheStateConfigMap(t *testing.T) {
	apps := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "migrate-apps", Labels: map[string]string{"istio.io/rev": "1-0-0"}}}
	if err := k8sClient.Create(t.Context(), apps); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), apps) })
	mesh := newMesh("migrate")
	mesh.Spec.Version = "1.0.0"
	mesh.Spec.UpdateStrategy.Type = operatorv1alpha1.RevisionBased
	createMesh(t, mesh)
	good := waitCondition(t, "migrate", operatorv1alpha1.ConditionReady, metav1.ConditionTrue)

	// The older operator saw 1.0.0 Ready and had begun the upgrade to 1.1.0 when it stopped.
	stopOperator()
	operatorStarted := false
	t.Cleanup(func() {
		if !operatorStarted {
			if err := startOperator(context.Background()); err != nil {
				t.Error(err)
			}
		}
	})
	patchMesh(t, "migrate", `{"spec":{"version":"1.1.0"}}`)
	if err := k8sClient.DeleteAllOf(t.Context(), &operatorv1alpha1.MeshRevision{}, client.MatchingLabels{controllers.LabelMesh: "migrate"}); err != nil {
		t.Fatal(err)
	}
	old, err := json.Marshal(map[string]any{
		"uid":       good.UID,
		"lastGood":  map[string]any{"generation": good.Generation, "spec": good.Spec},
		"attempt":   map[string]any{"generation": good.Generation + 1, "started": metav1.Now()},
		"revisions": map[string]any{"1-0-0": map[string]any{"spec": good.Spec}},
	})
	if err != nil {
		t.Fatal(err)
	}
	state := &corev1.ConfigMap{}
	if err := k8sClient.Get(t.Context(), client.ObjectKey{Namespace: "migrate", Name: "loom-operator-state-migrate"}, state); err != nil {
		t.Fatal(err)
	}
	state.Data = map[string]string{"state.json": string(old)}
	if err := k8sClient.Update(t.Context(), state); err != nil {
		t.Fatal(err)
	}
	if revs := meshRevisions(t.Context(), t, "migrate"); len(revs) > 0 {
		t.Fatalf("MeshRevisions left before the restart: %v", revisionRows(revs))
	}

	if err := startOperator(context.Background()); err != nil {
		t.Fatal(err)
	}
	operatorStarted = true
	revs := waitRevisionRows(t, "migrate", map[string]revisionRow{
		"migrate.1-0-0": {ready: "True", inUse: "True"},
		"migrate.1-1-0": {ready: "True", inUse: "False"},
	})
	got := waitCondition(t, "migrate", operatorv1alpha1.ConditionReady, metav1.ConditionTrue)
	if got.Status.Revision != "1-1-0" || len(got.Status.Revisions) != 2 {
		t.Errorf("after the migration: revision %q, revisions %+v", got.Status.Revision, got.Status.Revisions)
	}
	if !exists(t, "migrate", "loom-control-plane-1-0-0") || !exists(t, "migrate", "loom-control-plane-1-1-0") {
		t.Error("the two revisions do not run side by side")
	}
	for name, mr := range revs {
		if owner := metav1.GetControllerOf(&mr); owner == nil || owner.UID != good.UID {
			t.Errorf("MeshRevision %s: controller %+v, want MeshOperator migrate", name, owner)
		}
		if mr.Status.LastGoodSpecHash != mr.Spec.SpecHash {
			t.Errorf("MeshRevision %s: last good spec hash %q, spec hash %q", name, mr.Status.LastGoodSpecHash, mr.Spec.SpecHash)
		}
	}
	if revs["1-0-0"].Status.Namespaces != 1 || revs["1-0-0"].Spec.Version != "1.0.0" {
		t.Errorf("MeshRevision migrate.1-0-0: %+v %+v", revs["1-0-0"].Spec.Version, revs["1-0-0"].Status)
	}
	if err := k8sClient.Get(t.Context(), client.ObjectKeyFromObject(state), state); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(state.Data["state.json"], `"revisions"`) {
		t.Errorf("the state ConfigMap still holds the revisions: %s", state.Data["state.json"])
	}

	deleteMesh(t, "migrate")
	if revs := meshRevisions(t.Context(), t, "migrate"); len(revs) > 0 {
		t.Errorf("uninstall left MeshRevisions %v", revisionRows(revs))
	}
}

// TestDefaultRevisionUsage: the default revision of an in-place mesh is used, as in Istio, by
// namespaces labelled istio-injection=enabled or istio.io/rev=default (unless
// istio-injection says otherwise), and by workload pods labelled istio.io/rev=default.
func TestDefaultRevisionUsage(t *testing.T) {
	for name, l := range map[string]map[string]string{
		"usage-injection": {"istio-injection": "enabled"},
		"usage-rev":       {"istio.io/rev": "default"},
		"usage-disabled":  {"istio.io/rev": "default", "istio-injection": "disabled"},
	} {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l}}
		if err := k8sClient.Create(t.Context(), ns); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), ns) })
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "usage-disabled", Name: "app", Labels: map[string]string{"istio.io/rev": "default"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}},
	}
	// The namespace's default ServiceAccount, which admission requires, comes shortly.
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		return k8sClient.Create(ctx, pod) == nil, nil
	})
	if err != nil {
		t.Fatal("creating the workload pod:", err)
	}

	createMesh(t, newMesh("usage"))
	waitRevisionRows(t, "usage", map[string]revisionRow{"usage.default": {ready: "True", inUse: "True"}})
	var st operatorv1alpha1.MeshRevisionStatus
	err = wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		st = meshRevisions(ctx, t, "usage")["default"].Status
		return st.Namespaces == 2 && st.Workloads == 1, nil
	})
	if err != nil {
		t.Errorf("MeshRevision usage.default counts %d namespaces and %d workloads, want 2 and 1", st.Namespaces, st.Workloads)
	}
	// A namespace that stops selecting the revision is seen without waiting for a poll.
	ns := &corev1.Namespace{}
	if err := k8sClient.Get(t.Context(), client.ObjectKey{Name: "usage-rev"}, ns); err != nil {
		t.Fatal(err)
	}
	delete(ns.Labels, "istio.io/rev")
	if err := k8sClient.Update(t.Context(), ns); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		st = meshRevisions(ctx, t, "usage")["default"].Status
		return st.Namespaces == 1, nil
	})
	if err != nil {
		t.Errorf("after a namespace left: MeshRevision usage.default counts %d namespaces, want 1", st.Namespaces)
	}
}
