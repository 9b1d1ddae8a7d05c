// Package argocdhealth tests deploy/argocd/health.lua with Argo CD's own code: the argocd-cm
// snippet of deploy/argocd/README.md is loaded by Argo CD's SettingsManager and evaluated by
// gitops-engine's health with Argo CD's Lua overrides, as the application controller does.
package argocdhealth

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/argoproj/argo-cd/v3/util/lua"
	"github.com/argoproj/argo-cd/v3/util/settings"
	"github.com/argoproj/gitops-engine/pkg/health"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"
)

const (
	deployDir     = "../../../deploy/argocd"
	healthDataKey = "resource.customizations.health.operator.loom.dev_MeshOperator"
)

// argocdConfigMap returns the argocd-cm ConfigMap documented in deploy/argocd/README.md.
func argocdConfigMap(t *testing.T) *corev1.ConfigMap {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(deployDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(readme, -1)
	for _, b := range blocks {
		if !strings.Contains(string(b[1]), "kind: ConfigMap") {
			continue
		}
		cm := &corev1.ConfigMap{}
		if err := yaml.UnmarshalStrict(b[1], cm); err != nil {
			t.Fatalf("README.md: the argocd-cm block does not parse: %v", err)
		}
		return cm
	}
	t.Fatal("README.md has no yaml block with the argocd-cm ConfigMap")
	return nil
}

func TestReadmeSnippetIsHealthLua(t *testing.T) {
	script, err := os.ReadFile(filepath.Join(deployDir, "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	got := argocdConfigMap(t).Data[healthDataKey]
	if got != string(script) {
		t.Errorf("README.md's %s differs from health.lua; copy health.lua into it (indented 4 spaces)", healthDataKey)
	}
}

// healthOverrides loads the resource customizations from the README's argocd-cm with Argo CD's
// SettingsManager, over a fake clientset.
func healthOverrides(t *testing.T) lua.ResourceHealthOverrides {
	t.Helper()
	cm := argocdConfigMap(t)
	secret := &corev1.Secret{} // argocd-secret, which the SettingsManager also watches
	secret.Name, secret.Namespace, secret.Labels = "argocd-secret", cm.Namespace, cm.Labels
	client := fake.NewClientset(cm, secret)
	overrides, err := settings.NewSettingsManager(t.Context(), client, cm.Namespace).GetResourceOverrides()
	if err != nil {
		t.Fatalf("Argo CD rejects the argocd-cm: %v", err)
	}
	if overrides["operator.loom.dev/MeshOperator"].HealthLua == "" {
		t.Fatalf("Argo CD found no health check for operator.loom.dev/MeshOperator in %v", overrides)
	}
	return lua.ResourceHealthOverrides(overrides)
}

func TestMeshOperatorHealth(t *testing.T) {
	overrides := healthOverrides(t)
	cases := []struct {
		file    string
		status  health.HealthStatusCode
		message string
	}{
		{"created.yaml", health.HealthStatusProgressing, "Waiting for the operator to report status"},
		{"ca-first.yaml", health.HealthStatusProgressing, "Waiting for the operator to observe generation 1 (status describes 0)"},
		{"installing.yaml", health.HealthStatusProgressing, "Deployment loom-system/loom-control-plane is InProgress: Ready: 0/1"},
		{"upgrading.yaml", health.HealthStatusProgressing, "Deployment loom-system/loom-control-plane is InProgress: Updated: 1/2"},
		{"generation-lag.yaml", health.HealthStatusProgressing, "Waiting for the operator to observe generation 2 (status describes 1)"},
		{"waiting-namespace.yaml", health.HealthStatusProgressing, "waiting for namespace loom-system to finish terminating"},
		// gitops-engine answers for a deleted object before any Lua runs.
		{"deleting.yaml", health.HealthStatusProgressing, "Pending deletion"},
		{"ready.yaml", health.HealthStatusHealthy, "all 2 components ready"},
		{"ready-expiring.yaml", health.HealthStatusHealthy, `all 2 components ready; warning: root "O=cluster.local" expires at 2026-12-20T10:00:00Z; note: spec.meshConfig.accessLogging is enabled, but proxies are not configured to write access logs yet`},
		{"rolled-back.yaml", health.HealthStatusDegraded, "generation 3 (version 1.1.0) was not Ready within 5m0s (control-plane: Deployment loom-system/loom-control-plane is InProgress: Ready: 0/1); rolled back to generation 2 (version 1.0.0)"},
		{"component-unhealthy.yaml", health.HealthStatusDegraded, "control-plane not Ready after 5m0s: Deployment loom-system/loom-control-plane is InProgress: Ready: 0/1"},
		{"failed-invalid-values.yaml", health.HealthStatusDegraded, "values for chart control-plane are invalid: at '/replicas': got string, want integer"},
		{"failed-namespace-conflict.yaml", health.HealthStatusDegraded, "namespace loom-system is already owned by MeshOperator other; only one MeshOperator may own a namespace"},
		{"failed-apply-failed.yaml", health.HealthStatusDegraded, `applying Deployment loom-system/loom-control-plane: admission webhook "policy.example.com" denied the request: images must be signed`},
		{"ca-invalid.yaml", health.HealthStatusDegraded, "CA: plugged CA secret loom-system/cacerts: ca-key.pem: key does not match ca-cert.pem"},
		// Captured from the real operator's reconciles by test/integration (-capture-argocd),
		// which fails when the operator's status no longer matches them.
		{"captured/ready.yaml", health.HealthStatusHealthy, "all 2 components ready"},
		{"captured/invalid-values.yaml", health.HealthStatusDegraded, "control-plane: values for chart control-plane are invalid: values don't meet the specifications of the schema(s) in the following chart(s):\ncontrol-plane:\n- at '/replicas': got string, want integer\n"},
		{"captured/namespace-conflict.yaml", health.HealthStatusDegraded, "namespace shared is already owned by MeshOperator first; only one MeshOperator may own a namespace"},
		{"captured/rolled-back.yaml", health.HealthStatusDegraded, "generation 2 (version 1.1.0) was not Ready within 2s (control-plane: Deployment rollback/loom-control-plane is InProgress: Pending termination: 1); rolled back to generation 1 (version 1.0.0)"},
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		seen[tc.file] = true
		t.Run(strings.TrimSuffix(tc.file, ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			obj := &unstructured.Unstructured{}
			if err := yaml.Unmarshal(data, &obj.Object); err != nil {
				t.Fatalf("%s: %v", tc.file, err)
			}
			got, err := health.GetResourceHealth(obj, overrides)
			if err != nil {
				t.Fatalf("%s: Argo CD's Lua evaluator failed: %v", tc.file, err)
			}
			if got == nil || got.Status != tc.status || got.Message != tc.message {
				t.Errorf("%s: health = %+v, want {Status:%s Message:%s}", tc.file, got, tc.status, tc.message)
			}
		})
	}
	files, _ := filepath.Glob("testdata/*.yaml")
	captured, _ := filepath.Glob("testdata/captured/*.yaml")
	if len(captured) == 0 {
		t.Error("no MeshOperator captured from real reconciles in testdata/captured")
	}
	for _, f := range append(files, captured...) {
		if rel, _ := filepath.Rel("testdata", f); !seen[rel] {
			t.Errorf("%s has no expected health in this test", f)
		}
	}
}
