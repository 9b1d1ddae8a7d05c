package helmchart

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"loom.dev/loom/internal/devcluster"
	"loom.dev/loom/internal/operator"
)

const (
	helmTimeout     = 2 * time.Minute
	meshOperatorCRD = "meshoperators.operator.loom.dev"
	// The printer column the upgrade's chart copy adds to the MeshOperator CRD.
	upgradeColumn = "ChartUpgraded"
)

// TestInstallUpgradeUninstall drives the chart through its life with the Helm SDK against a
// local kube-apiserver whose kwok node makes the operator's Deployment Available (no
// container runs: the operator's own behaviour is test/e2e's job).
func TestInstallUpgradeUninstall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a local cluster")
	}
	ctx := t.Context()
	started := time.Now()
	cluster, err := devcluster.Start(ctx, devcluster.Options{Nodes: 1})
	if err != nil {
		t.Fatalf("starting cluster: %v", err)
	}
	t.Cleanup(func() {
		if err := cluster.Stop(); err != nil {
			t.Errorf("stopping cluster: %v", err)
		}
	})
	t.Logf("cluster up in %s", time.Since(started).Round(time.Millisecond))
	c, err := client.New(cluster.Config, client.Options{Scheme: operator.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	if err := apiextensionsv1.AddToScheme(c.Scheme()); err != nil {
		t.Fatal(err)
	}
	cfg := helmConfig(t, cluster.KubeconfigPath)

	step := time.Now()
	install := action.NewInstall(cfg)
	install.ReleaseName, install.Namespace, install.CreateNamespace = releaseName, releaseNamespace, true
	install.Wait, install.Timeout = true, helmTimeout
	if _, err := install.RunWithContext(ctx, loadChart(t, chartDir), nil); err != nil {
		t.Fatalf("helm install: %v", err)
	}
	t.Logf("install (waited for Available) in %s", time.Since(step).Round(time.Millisecond))
	d := availableDeployment(ctx, t, c)
	if img := d.Spec.Template.Spec.Containers[0].Image; img != "loom:v1.1.0" {
		t.Errorf("installed image %q, want loom:v1.1.0", img)
	}
	if args := d.Spec.Template.Spec.Containers[0].Args; !slices.Equal(args, []string{"operator", "--leader-elect", "--metrics-bind-address=:8080", "--health-probe-bind-address=:8081", "--zap-log-level=info"}) {
		t.Errorf("installed args %q", args)
	}
	for _, path := range crdFiles(t) {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		name = strings.SplitN(name, "_", 2)[1] + "." + strings.SplitN(name, "_", 2)[0]
		var crd apiextensionsv1.CustomResourceDefinition
		if err := c.Get(ctx, types.NamespacedName{Name: name}, &crd); err != nil {
			t.Fatalf("CRD %s after install: %v", name, err)
		}
		if crd.Annotations["helm.sh/resource-policy"] != "keep" {
			t.Errorf("CRD %s annotations %v lack resource-policy keep", name, crd.Annotations)
		}
	}

	// Upgrade with changed values and a chart whose CRD changed.
	step = time.Now()
	upgrade := action.NewUpgrade(cfg)
	upgrade.Namespace, upgrade.Wait, upgrade.Timeout = releaseNamespace, true, helmTimeout
	changed := map[string]any{"logLevel": "debug", "replicaCount": 2}
	if _, err := upgrade.RunWithContext(ctx, releaseName, loadChart(t, chartWithExtraColumn(t)), changed); err != nil {
		t.Fatalf("helm upgrade: %v", err)
	}
	t.Logf("upgrade (waited for Available) in %s", time.Since(step).Round(time.Millisecond))
	d = availableDeployment(ctx, t, c)
	if *d.Spec.Replicas != 2 || d.Status.AvailableReplicas != 2 {
		t.Errorf("after upgrade: replicas %d, available %d, want 2", *d.Spec.Replicas, d.Status.AvailableReplicas)
	}
	if !slices.Contains(d.Spec.Template.Spec.Containers[0].Args, "--zap-log-level=debug") {
		t.Errorf("after upgrade: args %q lack --zap-log-level=debug", d.Spec.Template.Spec.Containers[0].Args)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := c.Get(ctx, types.NamespacedName{Name: meshOperatorCRD}, &crd); err != nil {
		t.Fatal(err)
	}
	if !hasColumn(crd, upgradeColumn) {
		t.Errorf("helm upgrade did not update CRD %s: printer columns %+v", meshOperatorCRD, crd.Spec.Versions[0].AdditionalPrinterColumns)
	}

	// A user's mesh, created while the operator is installed, outlives the operator.
	mesh := &unstructured.Unstructured{}
	readYAML(t, filepath.Join(configDir, "samples", "mesh_minimal.yaml"), &mesh.Object)
	if err := c.Create(ctx, mesh); err != nil {
		t.Fatalf("creating MeshOperator %s: %v", mesh.GetName(), err)
	}

	step = time.Now()
	uninstall := action.NewUninstall(cfg)
	uninstall.Wait, uninstall.Timeout = true, helmTimeout
	res, err := uninstall.Run(releaseName)
	if err != nil {
		t.Fatalf("helm uninstall: %v", err)
	}
	t.Logf("uninstall in %s; helm says: %s", time.Since(step).Round(time.Millisecond), res.Info)
	for _, obj := range []client.Object{
		&appsv1.Deployment{}, &corev1.ServiceAccount{}, &corev1.Service{}, &rbacv1.ClusterRole{}, &rbacv1.ClusterRoleBinding{}, &rbacv1.Role{},
	} {
		name := releaseName
		switch obj.(type) {
		case *corev1.Service:
			name += "-metrics"
		case *rbacv1.Role:
			name += "-leader-election"
		}
		if err := c.Get(ctx, types.NamespacedName{Namespace: releaseNamespace, Name: name}, obj); !apierrors.IsNotFound(err) {
			t.Errorf("%T %s after uninstall: err = %v, want NotFound", obj, name, err)
		}
	}
	if err := c.Get(ctx, types.NamespacedName{Name: meshOperatorCRD}, &crd); err != nil {
		t.Errorf("CRD %s after uninstall: %v (the chart keeps it)", meshOperatorCRD, err)
	} else if !hasColumn(crd, upgradeColumn) {
		t.Errorf("CRD %s after uninstall is not the upgraded one", meshOperatorCRD)
	}
	kept := &unstructured.Unstructured{}
	kept.SetGroupVersionKind(mesh.GroupVersionKind())
	if err := c.Get(ctx, types.NamespacedName{Name: mesh.GetName()}, kept); err != nil {
		t.Errorf("MeshOperator %s after uninstall: %v", mesh.GetName(), err)
	}

	// Installing again under the same name adopts the kept CRDs (they still carry the
	// release's ownership annotations) and brings them back to the chart's version.
	reinstall := action.NewInstall(cfg)
	reinstall.ReleaseName, reinstall.Namespace = releaseName, releaseNamespace
	reinstall.Wait, reinstall.Timeout = true, helmTimeout
	if _, err := reinstall.RunWithContext(ctx, loadChart(t, chartDir), nil); err != nil {
		t.Fatalf("helm install after uninstall (kept CRDs): %v", err)
	}
	availableDeployment(ctx, t, c)
	if err := c.Get(ctx, types.NamespacedName{Name: meshOperatorCRD}, &crd); err != nil {
		t.Fatal(err)
	}
	if hasColumn(crd, upgradeColumn) {
		t.Errorf("reinstall left CRD %s at the upgraded chart's version", meshOperatorCRD)
	}
	if err := c.Get(ctx, types.NamespacedName{Name: mesh.GetName()}, kept); err != nil {
		t.Errorf("MeshOperator %s after reinstall: %v", mesh.GetName(), err)
	}
}

// helmConfig is what `helm --kubeconfig <path> -n loom-system` runs with (release records
// in Secrets).
func helmConfig(t *testing.T, kubeconfig string) *action.Configuration {
	t.Helper()
	flags := genericclioptions.NewConfigFlags(false)
	namespace := releaseNamespace
	flags.KubeConfig, flags.Namespace = &kubeconfig, &namespace
	cfg := new(action.Configuration)
	if err := cfg.Init(flags, releaseNamespace, "secret", t.Logf); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// availableDeployment returns the operator's Deployment once it is Available with all its
// replicas (Helm's wait already checked; this reads it as a user would).
func availableDeployment(ctx context.Context, t *testing.T, c client.Client) *appsv1.Deployment {
	t.Helper()
	d := &appsv1.Deployment{}
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, types.NamespacedName{Namespace: releaseNamespace, Name: releaseName}, d); err != nil {
			return false, err
		}
		for _, cond := range d.Status.Conditions {
			if cond.Type == appsv1.DeploymentAvailable && cond.Status == corev1.ConditionTrue {
				return d.Status.ObservedGeneration == d.Generation && d.Status.AvailableReplicas == *d.Spec.Replicas, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("Deployment %s/%s not Available: %v; status %+v", releaseNamespace, releaseName, err, d.Status)
	}
	return d
}

// chartWithExtraColumn copies the chart to a temporary directory and adds a printer column to
// its MeshOperator CRD, as a new operator version would.
func chartWithExtraColumn(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "loom-operator")
	if err := os.CopyFS(dir, os.DirFS(chartDir)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "files", "crds", "operator.loom.dev_meshoperators.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const anchor = "  - additionalPrinterColumns:\n"
	if !strings.Contains(string(data), anchor) {
		t.Fatalf("%s has no %q to add a column to", path, anchor)
	}
	column := "    - jsonPath: .metadata.generation\n      name: " + upgradeColumn + "\n      type: integer\n"
	data = []byte(strings.Replace(string(data), anchor, anchor+column, 1))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func hasColumn(crd apiextensionsv1.CustomResourceDefinition, name string) bool {
	for _, v := range crd.Spec.Versions {
		for _, col := range v.AdditionalPrinterColumns {
			if col.Name == name {
				return true
			}
		}
	}
	return false
}
