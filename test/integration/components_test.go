package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/internal/devcluster"
)

// TestComponentsInstallInOrder installs a mesh with gateways and every add-on while the
// control plane cannot become Ready: nothing else is installed until it is.
func TestComponentsInstallInOrder(t *testing.T) {
	mesh := newMesh("ordered")
	spec := `{
		"namespace": "ordered",
		"gateways": [{"name": "ingress", "type": "Ingress"}, {"name": "egress", "type": "Egress", "namespace": "ordered-egress"}],
		"addons": {"prometheus": {"enabled": true}, "grafana": {"enabled": true, "adminCredentialsSecretRef": {"name": "grafana-admin"}}, "jaeger": {"enabled": true}},
		"values": {"controlPlane": {"podAnnotations": {"` + devcluster.UnreadyAnnotation + `": "true"}}}
	}`
	if err := json.Unmarshal([]byte(spec), &mesh.Spec); err != nil {
		t.Fatal(err)
	}
	createMesh(t, mesh)

	got := &operatorv1alpha1.MeshOperator{}
	err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := k8sClient.Get(ctx, client.ObjectKey{Name: "ordered"}, got); err != nil {
			return false, err
		}
		return len(got.Status.Components) >= 2, nil
	})
	if err != nil {
		t.Fatalf("the control plane was never installed: %v (components %+v)", err, got.Status.Components)
	}
	// Give the operator time to (wrongly) install more.
	time.Sleep(time.Second)
	if err := k8sClient.Get(t.Context(), client.ObjectKey{Name: "ordered"}, got); err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Components) != 2 || got.Status.Components[1].Name != "control-plane" || got.Status.Components[1].Ready {
		t.Fatalf("components while the control plane is unready: %+v", got.Status.Components)
	}
	if exists(t, "ordered", "ingress") || exists(t, "ordered", "prometheus") {
		t.Fatal("a gateway or an add-on was installed before the control plane was Ready")
	}

	patchMesh(t, "ordered", `{"spec":{"values":null}}`)
	got = waitCondition(t, "ordered", operatorv1alpha1.ConditionReady, metav1.ConditionTrue)
	var names []string
	for _, c := range got.Status.Components {
		names = append(names, c.Name)
		if !c.Ready || c.ReadyReplicas != c.DesiredReplicas || c.Version != "1.1.0" {
			t.Errorf("component %+v not ready", c)
		}
	}
	want := []string{"istio-crds", "control-plane", "gateway-ingress", "gateway-egress", "addon-prometheus", "addon-grafana", "addon-jaeger"}
	if len(names) != len(want) {
		t.Fatalf("components %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("components %v, want %v", names, want)
		}
	}
	for _, d := range [][2]string{{"ordered", "ingress"}, {"ordered-egress", "egress"}, {"ordered", "prometheus"}, {"ordered", "grafana"}, {"ordered", "jaeger"}} {
		if !exists(t, d[0], d[1]) {
			t.Errorf("Deployment %s/%s missing", d[0], d[1])
		}
	}

	deleteMesh(t, "ordered")
	if left := managedObjects(t, "ordered"); len(left) > 0 {
		t.Errorf("uninstall left %v", left)
	}
	// The gateway's namespace was created by the operator, so it goes too.
	err = wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		ns := &corev1.Namespace{}
		err := k8sClient.Get(ctx, client.ObjectKey{Name: "ordered-egress"}, ns)
		return apierrors.IsNotFound(err) || (err == nil && !ns.DeletionTimestamp.IsZero()), nil
	})
	if err != nil {
		t.Error("the gateway namespace the operator created was not deleted")
	}
}

func exists(t *testing.T, namespace, name string) bool {
	t.Helper()
	err := k8sClient.Get(t.Context(), client.ObjectKey{Namespace: namespace, Name: name}, &appsv1.Deployment{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

func TestRemovedGatewayIsPruned(t *testing.T) {
	mesh := newMesh("gw-removed")
	mesh.Spec.Gateways = []operatorv1alpha1.GatewaySpec{{Name: "edge", Type: operatorv1alpha1.IngressGateway}}
	createMesh(t, mesh)
	waitCondition(t, "gw-removed", operatorv1alpha1.ConditionReady, metav1.ConditionTrue)
	if !exists(t, "gw-removed", "edge") {
		t.Fatal("gateway not installed")
	}
	patchMesh(t, "gw-removed", `{"spec":{"gateways":null}}`)
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		for _, o := range managedObjects(t, "gw-removed") {
			if strings.Contains(o, "edge") {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Errorf("removed gateway left %v", managedObjects(t, "gw-removed"))
	}
	if !exists(t, "gw-removed", "loom-control-plane") {
		t.Error("the control plane went with the gateway")
	}
}

// TestRevisionBasedCanary upgrades with a new revision beside the old one; the old revision
// stays while a namespace uses it and goes after the grace period once none does.
func TestRevisionBasedCanary(t *testing.T) {
	apps := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "canary-apps", Labels: map[string]string{"istio.io/rev": "1-0-0"}}}
	if err := k8sClient.Create(t.Context(), apps); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), apps) })

	mesh := newMesh("canary")
	mesh.Spec.Version = "1.0.0"
	mesh.Spec.UpdateStrategy.Type = operatorv1alpha1.RevisionBased
	mesh.Spec.UpdateStrategy.RevisionGracePeriod = &metav1.Duration{Duration: time.Second}
	mesh.Spec.Gateways = []operatorv1alpha1.GatewaySpec{{Name: "ingress", Type: operatorv1alpha1.IngressGateway}}
	createMesh(t, mesh)
	got := waitCondition(t, "canary", operatorv1alpha1.ConditionReady, metav1.ConditionTrue)
	if got.Status.Revision != "1-0-0" || !exists(t, "canary", "loom-control-plane-1-0-0") {
		t.Fatalf("first revision: status revision %q", got.Status.Revision)
	}

	patchMesh(t, "canary", `{"spec":{"version":"1.1.0"}}`)
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := k8sClient.Get(ctx, client.ObjectKey{Name: "canary"}, got); err != nil {
			return false, err
		}
		return got.Status.Revision == "1-1-0" && len(got.Status.Revisions) == 2, nil
	})
	if err != nil {
		t.Fatalf("new revision never became current beside the old: %+v", got.Status)
	}
	if !exists(t, "canary", "loom-control-plane-1-0-0") || !exists(t, "canary", "loom-control-plane-1-1-0") {
		t.Fatal("the two revisions do not run side by side")
	}
	for _, r := range got.Status.Revisions {
		if !r.Ready {
			t.Errorf("revision %+v not ready", r)
		}
	}
	waitRevisionRows(t, "canary", map[string]revisionRow{
		"canary.1-0-0": {ready: "True", inUse: "True"},
		"canary.1-1-0": {ready: "True", inUse: "False"},
	})
	want := []string{"NAME VERSION READY IN USE", "canary.1-0-0 1.0.0 True True", "canary.1-1-0 1.1.0 True False"}
	if rows := kubectlRevisions(t, "canary"); strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("kubectl get meshrevisions:\n%s\nwant\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	// The gateway follows the new revision: its agent forwards xDS to the new control plane.
	gw := &appsv1.Deployment{}
	if err := k8sClient.Get(t.Context(), client.ObjectKey{Namespace: "canary", Name: "ingress"}, gw); err != nil {
		t.Fatal(err)
	}
	if env := fmt.Sprint(gw.Spec.Template.Spec.Containers); !strings.Contains(env, "loom-control-plane-1-1-0.canary.svc:15012") {
		t.Errorf("gateway still pointed at the old revision: %s", env)
	}

	// In use: kept past the grace period.
	time.Sleep(2 * time.Second)
	if !exists(t, "canary", "loom-control-plane-1-0-0") {
		t.Fatal("the old revision was removed while a namespace still uses it")
	}
	// Moved: removed after the grace period.
	apps.Labels["istio.io/rev"] = "1-1-0"
	if err := k8sClient.Update(t.Context(), apps); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := k8sClient.Get(ctx, client.ObjectKey{Name: "canary"}, got); err != nil {
			return false, err
		}
		return !exists(t, "canary", "loom-control-plane-1-0-0") && len(got.Status.Revisions) == 1, nil
	})
	if err != nil {
		t.Fatalf("the unused old revision was not removed: %+v", got.Status.Revisions)
	}
	revs := waitRevisionRows(t, "canary", map[string]revisionRow{"canary.1-1-0": {ready: "True", inUse: "True"}})
	if st := revs["1-1-0"].Status; st.Namespaces != 1 || st.UnusedSince != nil {
		t.Errorf("MeshRevision canary.1-1-0 status %+v", st)
	}

	deleteMesh(t, "canary")
	if revs := meshRevisions(t.Context(), t, "canary"); len(revs) > 0 {
		t.Errorf("uninstall left MeshRevisions %v", revisionRows(revs))
	}
}
