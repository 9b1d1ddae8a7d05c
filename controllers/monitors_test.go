package controllers

import (
	"context"
	"os"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/yaml"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/internal/crddefaults"
	"loom.dev/loom/pkg/render"
)

func minimalMesh(t *testing.T) *operatorv1alpha1.MeshOperator {
	t.Helper()
	data, err := os.ReadFile("../config/samples/mesh_minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	mesh := &operatorv1alpha1.MeshOperator{}
	if err := yaml.UnmarshalStrict(data, mesh); err != nil {
		t.Fatal(err)
	}
	d, err := crddefaults.Load("../config/crd/bases/operator.loom.dev_meshoperators.yaml", "v1alpha1")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Default(mesh); err != nil {
		t.Fatal(err)
	}
	return mesh
}

// monitoringCRD is a Prometheus Operator CRD as the apiserver holds it once Established.
func monitoringCRD(name string, established bool) *apiextensionsv1.CustomResourceDefinition {
	status := apiextensionsv1.ConditionFalse
	if established {
		status = apiextensionsv1.ConditionTrue
	}
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       apiextensionsv1.CustomResourceDefinitionSpec{Group: monitoringGroup, Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Name: "v1", Served: true, Storage: true}}},
		Status:     apiextensionsv1.CustomResourceDefinitionStatus{Conditions: []apiextensionsv1.CustomResourceDefinitionCondition{{Type: apiextensionsv1.Established, Status: status}}},
	}
}

func reconcilerWithCRDs(t *testing.T, crds ...*apiextensionsv1.CustomResourceDefinition) *MeshOperatorReconciler {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	b := fake.NewClientBuilder().WithScheme(scheme)
	for _, crd := range crds {
		b = b.WithObjects(crd)
	}
	renderer, err := render.New()
	if err != nil {
		t.Fatal(err)
	}
	return &MeshOperatorReconciler{Client: b.Build(), Renderer: renderer}
}

func allMonitoringCRDs(established bool) []*apiextensionsv1.CustomResourceDefinition {
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, name := range monitoringCRDs() {
		crds = append(crds, monitoringCRD(name, established))
	}
	return crds
}

func TestMonitoringCRDsInstalled(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		crds []*apiextensionsv1.CustomResourceDefinition
		want bool
	}{
		{"none", nil, false},
		{"two of three", allMonitoringCRDs(true)[:2], false},
		{"not established", allMonitoringCRDs(false), false},
		{"all established", allMonitoringCRDs(true), true},
	} {
		if got := reconcilerWithCRDs(t, tc.crds...).monitoringCRDsInstalled(ctx); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestAddonRulesAreTheRulesFile checks that the rules given to the monitors chart are the
// Prometheus add-on's file, byte for byte.
func TestAddonRulesAreTheRulesFile(t *testing.T) {
	want, err := os.ReadFile("../pkg/render/charts/prometheus/files/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := reconcilerWithCRDs(t)
	got, err := addonRules(r.Renderer, minimalMesh(t))
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("the rules read from the add-on's chart differ from its files/rules.yaml:\n%s", got)
	}
}

func planned(t *testing.T, r *MeshOperatorReconciler, mesh *operatorv1alpha1.MeshOperator) *component {
	t.Helper()
	components, err := r.plan(mesh)
	if err != nil {
		t.Fatal(err)
	}
	for i := range components {
		if components[i].name == monitorsComponent {
			return &components[i]
		}
	}
	return nil
}

// TestPlanFollowsModeAndCRDs: Auto plans the monitors only with the CRDs, Enabled always
// (not Ready without the CRDs, naming the field), Disabled never.
func TestPlanFollowsModeAndCRDs(t *testing.T) {
	ctx := context.Background()
	mesh := minimalMesh(t)
	without, with := reconcilerWithCRDs(t), reconcilerWithCRDs(t, allMonitoringCRDs(true)...)

	if c := planned(t, without, mesh); c != nil {
		t.Error("Auto without the CRDs planned the monitors")
	}
	c := planned(t, with, mesh)
	if c == nil {
		t.Fatal("Auto with the CRDs did not plan the monitors")
	}
	kinds := map[string]int{}
	for _, o := range c.objects {
		kinds[o.GetKind()]++
		if o.GetLabels()[LabelComponent] != monitorsComponent {
			t.Errorf("%s %s lacks the component label", o.GetKind(), o.GetName())
		}
	}
	if kinds["PodMonitor"] != 2 || kinds["ServiceMonitor"] != 1 || kinds["PrometheusRule"] != 1 {
		t.Errorf("monitors planned %v, want 2 PodMonitors, 1 ServiceMonitor and 1 PrometheusRule", kinds)
	}
	if st := with.monitorsReadiness(ctx, *c); !st.Ready {
		t.Errorf("monitors not Ready with the CRDs: %s", st.Message)
	}

	// The plan cache must not hide CRDs installed after the first plan.
	for _, crd := range allMonitoringCRDs(true) {
		if err := without.Create(ctx, crd); err != nil {
			t.Fatal(err)
		}
	}
	if planned(t, without, mesh) == nil {
		t.Error("Auto did not plan the monitors once the CRDs were installed")
	}

	enabled := mesh.DeepCopy()
	enabled.Spec.Addons.PrometheusOperator.Mode = operatorv1alpha1.PrometheusOperatorEnabled
	bare := reconcilerWithCRDs(t)
	c = planned(t, bare, enabled)
	if c == nil {
		t.Fatal("Enabled without the CRDs did not plan the monitors")
	}
	st := bare.monitorsReadiness(ctx, *c)
	if st.Ready || !strings.Contains(st.Message, "spec.addons.prometheusOperator.mode") || !strings.Contains(st.Message, "podmonitors.monitoring.coreos.com") {
		t.Errorf("Enabled without the CRDs: Ready %v, message %q; want not Ready naming the field and the CRDs", st.Ready, st.Message)
	}

	disabled := mesh.DeepCopy()
	disabled.Spec.Addons.PrometheusOperator.Mode = operatorv1alpha1.PrometheusOperatorDisabled
	if planned(t, with, disabled) != nil {
		t.Error("Disabled planned the monitors")
	}
}
