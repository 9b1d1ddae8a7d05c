package integration

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/controllers"
)

const prometheusOperatorCRDs = "testdata/prometheus-operator-crds"

// monitoringKinds are the Prometheus Operator's kinds the operator creates.
var monitoringKinds = []string{"PodMonitor", "ServiceMonitor", "PrometheusRule"}

// monitoringObjects lists the mesh's Prometheus Operator objects as "Kind name", with the
// live objects; nothing while the CRDs are not served.
func monitoringObjects(t *testing.T, mesh string) ([]string, map[string]*unstructured.Unstructured) {
	t.Helper()
	var names []string
	objs := map[string]*unstructured.Unstructured{}
	for _, kind := range monitoringKinds {
		list := &unstructured.UnstructuredList{}
		list.SetAPIVersion("monitoring.coreos.com/v1")
		list.SetKind(kind + "List")
		err := k8sClient.List(t.Context(), list, client.MatchingLabels{controllers.LabelMesh: mesh})
		if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for i := range list.Items {
			o := &list.Items[i]
			names = append(names, kind+" "+o.GetName())
			objs[kind+" "+o.GetName()] = o
		}
	}
	return names, objs
}

func waitMonitoringObjects(t *testing.T, mesh string, want int) map[string]*unstructured.Unstructured {
	t.Helper()
	var names []string
	var objs map[string]*unstructured.Unstructured
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		names, objs = monitoringObjects(t, mesh)
		return len(names) == want, nil
	})
	if err != nil {
		t.Fatalf("mesh %s: Prometheus Operator objects %v, want %d", mesh, names, want)
	}
	return objs
}

// installPrometheusOperatorCRDs creates the Prometheus Operator's real CRDs and waits until
// they are served; the returned function removes them and waits until they are gone.
func installPrometheusOperatorCRDs(t *testing.T) func() {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(prometheusOperatorCRDs, "*.yaml"))
	if err != nil || len(files) != 3 {
		t.Fatalf("want the 3 CRDs in %s, got %v (%v)", prometheusOperatorCRDs, files, err)
	}
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.Unmarshal(data, crd); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := k8sClient.Create(t.Context(), crd); err != nil {
			t.Fatalf("creating %s: %v", crd.Name, err)
		}
		crds = append(crds, crd)
	}
	remove := func() {
		ctx := context.Background()
		for _, crd := range crds {
			if err := k8sClient.Delete(ctx, crd); client.IgnoreNotFound(err) != nil {
				t.Errorf("deleting %s: %v", crd.Name, err)
			}
		}
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			for _, crd := range crds {
				if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(crd), &apiextensionsv1.CustomResourceDefinition{}); !apierrors.IsNotFound(err) {
					return false, nil
				}
			}
			return true, nil
		})
		if err != nil {
			t.Errorf("the Prometheus Operator's CRDs were never removed")
		}
	}
	err = wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		for _, crd := range crds {
			live := &apiextensionsv1.CustomResourceDefinition{}
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(crd), live); err != nil || !established(live) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		remove()
		t.Fatal("the Prometheus Operator's CRDs were never established")
	}
	return remove
}

// TestPrometheusOperatorMonitors: with mode Auto and no Prometheus Operator nothing is
// created and the mesh is Ready; installing the Prometheus Operator's CRDs brings
// the ServiceMonitor, the PodMonitors and the PrometheusRule (validated by the apiserver against the real schemas);
// labels reach them; Disabled removes them; Enabled without the CRDs says what is missing.
func TestPrometheusOperatorMonitors(t *testing.T) {
	const name = "monitors"
	if names, _ := monitoringObjects(t, name); len(names) > 0 {
		t.Fatalf("objects before the test: %v", names)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := k8sClient.Get(t.Context(), client.ObjectKey{Name: "podmonitors.monitoring.coreos.com"}, crd); !apierrors.IsNotFound(err) {
		t.Fatalf("the Prometheus Operator's CRDs must be absent when the test starts: %v", err)
	}

	createMesh(t, newMesh(name))
	got := waitCondition(t, name, operatorv1alpha1.ConditionReady, metav1.ConditionTrue)
	if got.Spec.Addons.PrometheusOperator.Mode != operatorv1alpha1.PrometheusOperatorAuto {
		t.Errorf("mode %q, want the default Auto", got.Spec.Addons.PrometheusOperator.Mode)
	}
	for _, c := range got.Status.Components {
		if strings.Contains(c.Name, "monitors") {
			t.Errorf("Auto without the CRDs planned %s", c.Name)
		}
	}

	start := time.Now()
	remove := installPrometheusOperatorCRDs(t)
	removed := false
	t.Cleanup(func() {
		if !removed {
			remove()
		}
	})
	objs := waitMonitoringObjects(t, name, 4)
	t.Logf("CRDs established -> monitors created took %s", time.Since(start))
	for _, want := range []string{"ServiceMonitor loom-control-plane", "PodMonitor loom-operator", "PodMonitor loom-proxies", "PrometheusRule loom"} {
		if objs[want] == nil {
			t.Errorf("no %s among %v", want, objs)
		}
	}
	// Nothing the operator rendered was pruned by the CRDs' structural schemas.
	if proxies := objs["PodMonitor loom-proxies"]; proxies != nil {
		endpoints, _, _ := unstructured.NestedSlice(proxies.Object, "spec", "podMetricsEndpoints")
		ep, _ := endpoints[0].(map[string]any)
		relabelings, _ := ep["relabelings"].([]any)
		if ep["path"] != "/stats/prometheus" || ep["port"] != "http-envoy-prom" || len(relabelings) != 7 {
			t.Errorf("loom-proxies endpoint as stored: %v", ep)
		}
	}
	if rule := objs["PrometheusRule loom"]; rule != nil {
		groups, _, _ := unstructured.NestedSlice(rule.Object, "spec", "groups")
		if len(groups) != 3 {
			t.Errorf("the stored PrometheusRule has %d groups, want the add-on's 3", len(groups))
		}
	}
	// The generation stays: the status gains the component without a spec change.
	mesh := &operatorv1alpha1.MeshOperator{}
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := k8sClient.Get(ctx, client.ObjectKey{Name: name}, mesh); err != nil {
			return false, err
		}
		ready := meta.IsStatusConditionTrue(mesh.Status.Conditions, operatorv1alpha1.ConditionReady)
		return ready && slices.ContainsFunc(mesh.Status.Components, func(c operatorv1alpha1.ComponentStatus) bool {
			return c.Name == "addon-prometheus-monitors" && c.Ready
		}), nil
	})
	if err != nil {
		t.Errorf("the mesh never reported the monitors component Ready: %+v", mesh.Status)
	}

	// kube-prometheus-stack selects its monitors by its release label.
	patchMesh(t, name, `{"spec":{"addons":{"prometheusOperator":{"mode":"Enabled","labels":{"release":"kube-prometheus-stack"}}}}}`)
	err = wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		_, objs = monitoringObjects(t, name)
		for _, o := range objs {
			if o.GetLabels()["release"] != "kube-prometheus-stack" {
				return false, nil
			}
		}
		return len(objs) == 4, nil
	})
	if err != nil {
		t.Fatalf("the labels never reached the monitors: %v", objs)
	}

	patchMesh(t, name, `{"spec":{"addons":{"prometheusOperator":{"mode":"Disabled"}}}}`)
	waitMonitoringObjects(t, name, 0)
	waitCondition(t, name, operatorv1alpha1.ConditionReady, metav1.ConditionTrue)

	// Enabled without the CRDs: the mesh is not Ready, and says which field wants what.
	remove()
	removed = true
	patchMesh(t, name, `{"spec":{"addons":{"prometheusOperator":{"mode":"Enabled"}}}}`)
	got = waitCondition(t, name, operatorv1alpha1.ConditionReady, metav1.ConditionFalse)
	msg := meta.FindStatusCondition(got.Status.Conditions, operatorv1alpha1.ConditionReady).Message
	if !strings.Contains(msg, "spec.addons.prometheusOperator.mode") || !strings.Contains(msg, "podmonitors.monitoring.coreos.com") {
		t.Errorf("Ready message %q does not name the field and the missing CRDs", msg)
	}
}
