package integration

import (
	"context"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/internal/discovery"
)

// The proxy counts the control-plane pods publish (with discovery's own publishing code)
// reach the MeshOperator's status and kubectl get mesh; a pod that does not run is not
// counted, and a withdrawn report leaves status.
func TestProxyCountsReachStatus(t *testing.T) {
	const name = "proxy-counts"
	createMesh(t, newMesh(name))
	waitCondition(t, name, operatorv1alpha1.ConditionReady, metav1.ConditionTrue)
	pods := &corev1.PodList{}
	if err := k8sClient.List(t.Context(), pods, client.InNamespace(name), client.MatchingLabels{"app.kubernetes.io/name": "loom-control-plane"}); err != nil || len(pods.Items) == 0 {
		t.Fatalf("no control-plane pod (%v)", err)
	}
	pod := pods.Items[0].Name
	cs := kubernetes.NewForConfigOrDie(cluster.Config)
	publish := func(pod string, counts *operatorv1alpha1.ProxyCounts) {
		t.Helper()
		if err := discovery.PublishProxyCounts(t.Context(), cs, name, "", pod, counts); err != nil {
			t.Fatal(err)
		}
	}
	publish(pod, &operatorv1alpha1.ProxyCounts{Connected: 5, OutOfDate: 1})
	publish("replaced-pod", &operatorv1alpha1.ProxyCounts{Connected: 100, OutOfDate: 100})

	want := &operatorv1alpha1.ProxiesStatus{Connected: 5, OutOfDate: 1, Summary: "4/5 current",
		Revisions: []operatorv1alpha1.RevisionProxies{{Revision: "default", Connected: 5, OutOfDate: 1, Reporting: 1}}}
	waitProxies(t, name, want)
	out, err := exec.CommandContext(t.Context(), cluster.Kubectl(), "--kubeconfig", cluster.KubeconfigPath, "get", "mesh", name).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "4/5 current") {
		t.Errorf("kubectl get mesh does not show the proxies (%v):\n%s", err, out)
	}

	publish(pod, nil)
	waitProxies(t, name, nil)
}

func waitProxies(t *testing.T, name string, want *operatorv1alpha1.ProxiesStatus) {
	t.Helper()
	mesh := &operatorv1alpha1.MeshOperator{}
	err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := k8sClient.Get(ctx, client.ObjectKey{Name: name}, mesh); err != nil {
			return false, err
		}
		return reflect.DeepEqual(mesh.Status.Proxies, want), nil
	})
	if err != nil {
		t.Fatalf("status.proxies = %+v, want %+v", mesh.Status.Proxies, want)
	}
}
