package values

import (
	"errors"
	"os"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/internal/crddefaults"
	"loom.dev/loom/internal/golden"
	"loom.dev/loom/pkg/render"
)

var profileNames = []string{"default", "minimal", "demo", "production"}

// sample reads config/samples/mesh_<profile>.yaml with the CRD's defaults applied.
func sample(t *testing.T, profile string) *operatorv1alpha1.MeshOperator {
	t.Helper()
	return defaulted(t, mustRead(t, "../../config/samples/mesh_"+profile+".yaml"))
}

func defaulted(t *testing.T, manifest []byte) *operatorv1alpha1.MeshOperator {
	t.Helper()
	mesh := &operatorv1alpha1.MeshOperator{}
	if err := yaml.UnmarshalStrict(manifest, mesh); err != nil {
		t.Fatal(err)
	}
	d, err := crddefaults.Load("../../config/crd/bases/operator.loom.dev_meshoperators.yaml", "v1alpha1")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Default(mesh); err != nil {
		t.Fatal(err)
	}
	return mesh
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func renderControlPlane(t *testing.T, mesh *operatorv1alpha1.MeshOperator) ([]*unstructured.Unstructured, error) {
	t.Helper()
	r, err := render.New()
	if err != nil {
		t.Fatal(err)
	}
	vals, err := ControlPlane(&mesh.Spec)
	if err != nil {
		return nil, err
	}
	return r.Render(render.ControlPlane, render.Release{Name: mesh.Name, Namespace: mesh.Spec.Namespace}, vals)
}

func find(objs []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind {
			return o
		}
	}
	return nil
}

func TestControlPlaneGoldenPerProfile(t *testing.T) {
	for _, profile := range profileNames {
		t.Run(profile, func(t *testing.T) {
			objs, err := renderControlPlane(t, sample(t, profile))
			if err != nil {
				t.Fatal(err)
			}
			golden.Assert(t, "testdata/control-plane-"+profile+".yaml", manifest(t, objs))
		})
	}
}

func TestProductionControlPlaneIsHighlyAvailable(t *testing.T) {
	objs, err := renderControlPlane(t, sample(t, "production"))
	if err != nil {
		t.Fatal(err)
	}
	deploy := find(objs, "Deployment")
	if _, set, _ := unstructured.NestedFieldNoCopy(deploy.Object, "spec", "replicas"); set {
		t.Error("Deployment sets replicas although its HorizontalPodAutoscaler owns them")
	}
	if _, ok, _ := unstructured.NestedMap(deploy.Object, "spec", "template", "spec", "affinity", "podAntiAffinity"); !ok {
		t.Error("no pod anti-affinity")
	}
	hpa := find(objs, "HorizontalPodAutoscaler")
	if min, _, _ := unstructured.NestedInt64(hpa.Object, "spec", "minReplicas"); hpa == nil || min < 2 {
		t.Errorf("HorizontalPodAutoscaler min replicas %d, want 2+", min)
	}
	if find(objs, "PodDisruptionBudget") == nil {
		t.Error("no PodDisruptionBudget")
	}
	if name := deploy.GetName(); name != "loom-control-plane-1-1-0" {
		t.Errorf("revision-based control plane named %q, want loom-control-plane-1-1-0", name)
	}
}

func TestMinimalControlPlaneIsSmall(t *testing.T) {
	objs, err := renderControlPlane(t, sample(t, "minimal"))
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"PodDisruptionBudget", "HorizontalPodAutoscaler"} {
		if find(objs, kind) != nil {
			t.Errorf("minimal profile renders a %s", kind)
		}
	}
	deploy := find(objs, "Deployment")
	containers, _, _ := unstructured.NestedSlice(deploy.Object, "spec", "template", "spec", "containers")
	cpu, _, _ := unstructured.NestedString(containers[0].(map[string]any), "resources", "requests", "cpu")
	if cpu != "50m" {
		t.Errorf("minimal control plane requests cpu %q, want 50m", cpu)
	}
}

func TestTypedFieldsAndOverrides(t *testing.T) {
	mesh := defaulted(t, []byte(`
apiVersion: operator.loom.dev/v1alpha1
kind: MeshOperator
metadata: {name: custom}
spec:
  profile: minimal
  controlPlane:
    replicas: 3
    logLevel: debug
    nodeSelector: {pool: mesh}
    env: [{name: EXTRA, value: "1"}]
  values:
    controlPlane:
      image: {repository: registry.example/loom, tag: custom}
`))
	objs, err := renderControlPlane(t, mesh)
	if err != nil {
		t.Fatal(err)
	}
	deploy := find(objs, "Deployment")
	if r, _, _ := unstructured.NestedInt64(deploy.Object, "spec", "replicas"); r != 3 {
		t.Errorf("replicas %d, want 3", r)
	}
	if sel, _, _ := unstructured.NestedStringMap(deploy.Object, "spec", "template", "spec", "nodeSelector"); sel["pool"] != "mesh" {
		t.Errorf("nodeSelector %v", sel)
	}
	containers, _, _ := unstructured.NestedSlice(deploy.Object, "spec", "template", "spec", "containers")
	c := containers[0].(map[string]any)
	if c["image"] != "registry.example/loom:custom" {
		t.Errorf("image %v: spec.values.controlPlane did not win", c["image"])
	}
	args, _, _ := unstructured.NestedStringSlice(c, "args")
	if !strings.Contains(strings.Join(args, " "), "--zap-log-level=debug") {
		t.Errorf("args %v lack the log level", args)
	}
	if env, _ := yaml.Marshal(c["env"]); !strings.Contains(string(env), "EXTRA") {
		t.Errorf("env %s lacks EXTRA", env)
	}
	if find(objs, "PodDisruptionBudget") == nil {
		t.Error("3 replicas but no PodDisruptionBudget")
	}
}

func TestInvalidOverridesNameTheField(t *testing.T) {
	for _, tc := range []struct{ values, want string }{
		{`{replicas: three}`, "replicas"},
		{`{imagee: {repository: x}}`, "imagee"},
		{`{logLevel: loud}`, "logLevel"},
	} {
		mesh := defaulted(t, []byte("apiVersion: operator.loom.dev/v1alpha1\nkind: MeshOperator\nmetadata: {name: bad}\nspec:\n  values:\n    controlPlane: "+tc.values+"\n"))
		_, err := renderControlPlane(t, mesh)
		var invalid *render.InvalidValuesError
		if !errors.As(err, &invalid) || invalid.Chart != render.ControlPlane || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("values %s: got %v, want an InvalidValuesError for chart %s naming %s", tc.values, err, render.ControlPlane, tc.want)
		}
	}
}
