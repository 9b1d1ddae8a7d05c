package e2e

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"loom.dev/loom/internal/devcluster"
)

// TestInstallWithKustomize applies config/default the way the README says, on a real node:
// the operator runs as a pod from Loom's image with its own ServiceAccount and RBAC, and the
// sample mesh's control plane runs `loom discovery` from the image, with real probes. A broken
// image, argument, permission or probe fails it.
func TestInstallWithKustomize(t *testing.T) {
	requireRealNode(t)
	ctx := t.Context()
	cluster, err := devcluster.Start(ctx, devcluster.Options{AssetsDir: assets, RealNode: &devcluster.RealNodeOptions{Images: imageTarballs(t)}})
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
	cs := kubernetes.NewForConfigOrDie(cluster.Config)
	waitAvailable := func(ns, name string) {
		t.Helper()
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
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
			t.Fatalf("%s Deployment not Available: %v\n%s\n%s", name, err,
				kubectl("-n", ns, "get", "deploy,pods", "-o", "wide"),
				kubectl("-n", ns, "describe", "pods"))
		}
	}
	waitAvailable("loom-system", "loom-operator")

	kubectl("apply", "-k", repoRoot+"/config/samples")
	waitAvailable("loom-system", "loom-control-plane")
	kubectl("wait", "--for", "condition=Ready", "mesh/loom", "--timeout", "120s")
	if logs := kubectl("-n", "loom-system", "logs", "deploy/loom-control-plane"); !strings.Contains(logs, "caches synced; serving config") {
		t.Errorf("the control-plane pod does not serve config:\n%s", logs)
	}

	// Proxyless gRPC echo servers and a client, each pod with `loom agent` getting its
	// certificate from the installed control plane's CA with the token kubelet projects:
	// 80/20 between the two echo Deployments over mTLS, each side seeing the other's SPIFFE id.
	k := &kube{t: t, cs: cs, cluster: cluster, ns: "grpc-demo"}
	kubectl("create", "namespace", k.ns)
	kubectl("-n", k.ns, "create", "configmap", "loom-mesh",
		"--from-literal=CA_ADDR=loom-control-plane.loom-system.svc:15012", "--from-literal=XDS_ADDRESS=loom-control-plane.loom-system.svc:15010")
	kubectl("apply", "-f", repoRoot+"/hack/demo/echo.yaml")
	waitAvailable(k.ns, "echo-v1")
	waitAvailable(k.ns, "echo-v2")
	kubectl("apply", "-f", repoRoot+"/hack/demo/client.yaml")
	var phase corev1.PodPhase
	k.waitPod("demo-client", func(p *corev1.Pod) bool {
		phase = p.Status.Phase
		return phase == corev1.PodSucceeded || phase == corev1.PodFailed
	})
	log := k.kubectl("logs", "demo-client", "-c", "client")
	if phase != corev1.PodSucceeded {
		t.Fatalf("client pod %s:\n%s\n%s", phase, log, k.kubectl("logs", "demo-client", "-c", "agent"))
	}
	checkSplit(t, log)
	checkMutualTLS(t, log, "spiffe://cluster.local/ns/grpc-demo/sa/echo", "spiffe://cluster.local/ns/grpc-demo/sa/demo-client")
}
