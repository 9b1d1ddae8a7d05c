package e2e

import (
	"context"
	"os/exec"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"loom.dev/loom/internal/devcluster"
)

// TestInstallWithKustomize applies config/default the way the README says and checks that the
// apiserver accepts every object and the operator Deployment becomes Available.
func TestInstallWithKustomize(t *testing.T) {
	ctx := t.Context()
	cluster, err := devcluster.Start(ctx, devcluster.Options{AssetsDir: assets, Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cluster.Stop() })
	kubectl := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, cluster.Kubectl(), append([]string{"--kubeconfig", cluster.KubeconfigPath}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}

	kubectl("apply", "--server-side", "-k", repoRoot+"/config/default")
	kubectl("wait", "--for", "condition=Established", "crd/meshoperators.operator.loom.dev", "--timeout", "60s")
	kubectl("apply", "-k", repoRoot+"/config/samples")
	kubectl("get", "mesh", "loom")

	cs := kubernetes.NewForConfigOrDie(cluster.Config)
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments("loom-system").Get(ctx, "loom-operator", metav1.GetOptions{})
		if err != nil {
			return false, nil //nolint:nilerr // not created yet
		}
		for _, c := range d.Status.Conditions {
			if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("loom-operator Deployment not Available: %v\n%s", err, kubectl("-n", "loom-system", "get", "deploy,pods", "-o", "wide"))
	}
}
