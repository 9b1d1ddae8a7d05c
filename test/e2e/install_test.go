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

	// Proxyless gRPC echo servers and a client in a namespace labelled istio-injection=enabled,
	// injected by the control-plane pod's webhook with the grpc-agent template: `loom agent`
	// gets each pod's certificate from the installed control plane's CA with the token kubelet
	// projects; 80/20 between the two echo Deployments over mTLS, each side seeing the other's
	// SPIFFE id.
	k := &kube{t: t, cs: cs, cluster: cluster, ns: "grpc-demo"}
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
		t.Fatalf("client pod %s:\n%s\n%s\n%s", phase, log, k.kubectl("logs", "demo-client", "-c", "istio-agent-init"), k.kubectl("logs", "demo-client", "-c", "istio-proxy"))
	}
	checkInjected(t, k, "demo-client")
	checkSplit(t, log)
	checkMutualTLS(t, log, "spiffe://cluster.local/ns/grpc-demo/sa/echo", "spiffe://cluster.local/ns/grpc-demo/sa/demo-client")
}

// checkInjected checks that the webhook, not the manifest, put the agent into the pod.
func checkInjected(t *testing.T, k *kube, pod string) {
	t.Helper()
	p, err := k.cs.CoreV1().Pods(k.ns).Get(t.Context(), pod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Annotations["sidecar.istio.io/status"] == "" {
		t.Errorf("pod %s has no sidecar.istio.io/status: not injected", pod)
	}
	var inits []string
	for _, c := range p.Spec.InitContainers {
		inits = append(inits, c.Name)
	}
	if strings.Join(inits, ",") != "istio-agent-init,istio-proxy" {
		t.Errorf("pod %s init containers %v, want the injected istio-agent-init and istio-proxy", pod, inits)
	}
}
