package e2e

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"

	"loom.dev/loom/internal/devcluster"
)

const (
	helmRelease   = "loom-operator"
	helmNamespace = "loom-system"
	helmTimeout   = 3 * time.Minute
	// The image the chart runs by default (its appVersion), one of imageTarballs' tags.
	helmChartImage = "loom:v1.1.0"
)

// TestHelmInstallUpgradeUninstall installs charts/loom-operator with the Helm SDK on a real
// node, so the operator's pod really runs from Loom's image: the operator becomes Available,
// the default-profile sample mesh becomes Ready with its control-plane pod serving config; an
// upgrade with changed values rolls the operator and the mesh stays Ready; uninstall removes
// the operator and, as the chart documents, keeps the CRDs, the user's MeshOperator, the
// Istio CRDs the mesh installed and the mesh itself.
func TestHelmInstallUpgradeUninstall(t *testing.T) {
	requireRealNode(t)
	ctx := t.Context()
	started := time.Now()
	cluster, err := devcluster.Start(ctx, devcluster.Options{AssetsDir: assets, RealNode: &devcluster.RealNodeOptions{Images: imageTarballs(t)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cluster.Stop() })
	t.Logf("real node up in %s", time.Since(started).Round(100*time.Millisecond))
	cs := kubernetes.NewForConfigOrDie(cluster.Config)
	kubectl := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, cluster.Kubectl(), append([]string{"--kubeconfig", cluster.KubeconfigPath}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	chart, err := loader.Load(repoRoot + "/charts/loom-operator")
	if err != nil {
		t.Fatalf("loading charts/loom-operator: %v", err)
	}
	cfg := helmActionConfig(t, cluster.KubeconfigPath)

	step := time.Now()
	install := action.NewInstall(cfg)
	install.ReleaseName, install.Namespace, install.CreateNamespace = helmRelease, helmNamespace, true
	install.Wait, install.Timeout = true, helmTimeout
	if _, err := install.RunWithContext(ctx, chart, nil); err != nil {
		t.Fatalf("helm install: %v\n%s", err, kubectl("-n", helmNamespace, "describe", "pods"))
	}
	pod := runningOperatorPod(t, cs, kubectl, "--zap-log-level=info")
	if img := pod.Spec.Containers[0].Image; img != helmChartImage {
		t.Errorf("operator pod runs image %q, want %q", img, helmChartImage)
	}
	t.Logf("helm install: operator pod %s running from %s in %s", pod.Name, pod.Status.ContainerStatuses[0].ImageID, time.Since(step).Round(100*time.Millisecond))

	step = time.Now()
	kubectl("apply", "-f", repoRoot+"/config/samples/mesh_default.yaml")
	waitDeploymentAvailable(t, cs, kubectl, helmNamespace, "loom-control-plane")
	kubectl("wait", "--for", "condition=Ready", "mesh/loom", "--timeout", "120s")
	if logs := kubectl("-n", helmNamespace, "logs", "deploy/loom-control-plane"); !strings.Contains(logs, "caches synced; serving config") {
		t.Fatalf("the control-plane pod does not serve config:\n%s", logs)
	}
	istioCRDs := istioCRDNames(t, kubectl)
	if len(istioCRDs) == 0 {
		t.Fatalf("the Ready mesh installed no Istio CRDs:\n%s", kubectl("get", "crd"))
	}
	t.Logf("mesh loom Ready with its control-plane pod serving config and %d Istio CRDs in %s", len(istioCRDs), time.Since(step).Round(100*time.Millisecond))

	// Upgrade with changed values: the operator's Deployment rolls to a pod that runs them.
	step = time.Now()
	upgrade := action.NewUpgrade(cfg)
	upgrade.Namespace, upgrade.Wait, upgrade.Timeout = helmNamespace, true, helmTimeout
	changed := map[string]any{
		"logLevel":  "debug",
		"resources": map[string]any{"requests": map[string]any{"cpu": "60m", "memory": "80Mi"}, "limits": map[string]any{"memory": "300Mi"}},
	}
	if _, err := upgrade.RunWithContext(ctx, helmRelease, chart, changed); err != nil {
		t.Fatalf("helm upgrade: %v\n%s", err, kubectl("-n", helmNamespace, "describe", "pods"))
	}
	upgraded := runningOperatorPod(t, cs, kubectl, "--zap-log-level=debug")
	if upgraded.UID == pod.UID {
		t.Errorf("helm upgrade did not replace operator pod %s", pod.Name)
	}
	if mem := upgraded.Spec.Containers[0].Resources.Requests.Memory().String(); mem != "80Mi" {
		t.Errorf("upgraded operator pod requests memory %s, want 80Mi", mem)
	}
	if lim := upgraded.Spec.Containers[0].Resources.Limits.Memory().String(); lim != "300Mi" {
		t.Errorf("upgraded operator pod limits memory %s, want 300Mi", lim)
	}
	kubectl("wait", "--for", "condition=Ready", "mesh/loom", "--timeout", "60s")
	waitDeploymentAvailable(t, cs, kubectl, helmNamespace, "loom-control-plane")
	t.Logf("helm upgrade: operator rolled to pod %s with debug logging and new resources, mesh still Ready, in %s", upgraded.Name, time.Since(step).Round(100*time.Millisecond))

	step = time.Now()
	uninstall := action.NewUninstall(cfg)
	uninstall.Wait, uninstall.Timeout = true, helmTimeout
	res, err := uninstall.Run(helmRelease)
	if err != nil {
		t.Fatalf("helm uninstall: %v", err)
	}
	t.Logf("helm uninstall in %s; helm says: %s", time.Since(step).Round(100*time.Millisecond), res.Info)
	if _, err := cs.AppsV1().Deployments(helmNamespace).Get(ctx, helmRelease, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("operator Deployment after uninstall: err = %v, want NotFound", err)
	}
	// Kept, not merely still terminating (a deleted CRD waits on the MeshOperator's finalizer).
	for _, crd := range []string{"meshoperators.operator.loom.dev", "meshrevisions.operator.loom.dev"} {
		if deleted := kubectl("get", "crd", crd, "-o", "jsonpath={.metadata.deletionTimestamp}"); deleted != "" {
			t.Errorf("CRD %s after uninstall is being deleted (since %s), want it kept", crd, deleted)
		}
	}
	if state := kubectl("get", "mesh", "loom", "-o", "jsonpath={.metadata.deletionTimestamp}/{.status.conditions[?(@.type==\"Ready\")].status}"); state != "/True" {
		t.Errorf("MeshOperator loom after uninstall: deletionTimestamp/Ready %q, want it kept as it was (\"/True\")", state)
	}
	if after := istioCRDNames(t, kubectl); !slices.Equal(after, istioCRDs) {
		t.Errorf("Istio CRDs after uninstall:\n%v\nwant the mesh's, kept:\n%v", after, istioCRDs)
	}
	waitDeploymentAvailable(t, cs, kubectl, helmNamespace, "loom-control-plane")
	if logs := kubectl("-n", helmNamespace, "logs", "deploy/loom-control-plane"); !strings.Contains(logs, "caches synced; serving config") {
		t.Errorf("after uninstall the control-plane pod does not serve config:\n%s", logs)
	}
	t.Logf("after uninstall: operator gone; CRDs, MeshOperator loom, %d Istio CRDs and the control plane kept", len(istioCRDs))
}

// helmActionConfig is what `helm --kubeconfig <path> -n loom-system` runs with (release
// records in Secrets).
func helmActionConfig(t *testing.T, kubeconfig string) *action.Configuration {
	t.Helper()
	flags := genericclioptions.NewConfigFlags(false)
	namespace := helmNamespace
	flags.KubeConfig, flags.Namespace = &kubeconfig, &namespace
	cfg := new(action.Configuration)
	if err := cfg.Init(flags, helmNamespace, "secret", t.Logf); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// runningOperatorPod waits until the operator's Deployment has rolled out completely, with
// its one pod Ready and running with logArg, and returns that pod.
func runningOperatorPod(t *testing.T, cs kubernetes.Interface, kubectl func(...string) string, logArg string) *corev1.Pod {
	t.Helper()
	waitDeploymentAvailable(t, cs, kubectl, helmNamespace, helmRelease)
	var found *corev1.Pod
	err := wait.PollUntilContextTimeout(t.Context(), 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := cs.CoreV1().Pods(helmNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=" + helmRelease})
		if err != nil {
			return false, nil //nolint:nilerr // keep polling
		}
		var live []corev1.Pod
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil {
				live = append(live, p)
			}
		}
		if len(live) != 1 || len(live[0].Status.ContainerStatuses) == 0 {
			return false, nil
		}
		p := &live[0]
		status := p.Status.ContainerStatuses[0]
		found = p
		return status.Ready && status.State.Running != nil && status.ImageID != "" &&
			slices.Contains(p.Spec.Containers[0].Args, logArg), nil
	})
	if err != nil {
		t.Fatalf("no single Ready operator pod running with %s: %v\n%s", logArg, err, kubectl("-n", helmNamespace, "get", "pods", "-o", "wide", "--show-labels"))
	}
	return found
}

// waitDeploymentAvailable waits until the Deployment has rolled out its current spec and is
// Available with all its replicas.
func waitDeploymentAvailable(t *testing.T, cs kubernetes.Interface, kubectl func(...string) string, ns, name string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil //nolint:nilerr // not created yet
		}
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		if d.Status.ObservedGeneration != d.Generation || d.Status.UpdatedReplicas != want || d.Status.AvailableReplicas != want || d.Status.Replicas != want {
			return false, nil
		}
		for _, c := range d.Status.Conditions {
			if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("%s/%s Deployment not rolled out and Available: %v\n%s\n%s", ns, name, err,
			kubectl("-n", ns, "get", "deploy,pods", "-o", "wide"),
			kubectl("-n", ns, "describe", "pods"))
	}
}

// istioCRDNames lists the cluster's CRDs of Istio's API groups (*.istio.io), sorted.
func istioCRDNames(t *testing.T, kubectl func(...string) string) []string {
	t.Helper()
	var names []string
	for _, name := range strings.Fields(kubectl("get", "crd", "-o", "name")) {
		name = strings.TrimPrefix(name, "customresourcedefinition.apiextensions.k8s.io/")
		if strings.HasSuffix(name, ".istio.io") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}
