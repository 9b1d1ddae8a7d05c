package kubectlmesh

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/internal/crddefaults"
	"loom.dev/loom/pkg/render"
	"loom.dev/loom/pkg/values"
)

// controlPlaneNamespace is where the test control planes run.
const controlPlaneNamespace = "loom-system"

// controlPlane is the Deployment and mesh ConfigMap the operator renders, with its real chart,
// for a MeshOperator spec (YAML, defaulted as the apiserver defaults it).
func controlPlane(t *testing.T, specYAML string) (*appsv1.Deployment, *corev1.ConfigMap) {
	t.Helper()
	mesh := &operatorv1alpha1.MeshOperator{}
	if err := yaml.UnmarshalStrict([]byte("spec: "+specYAML), mesh); err != nil {
		t.Fatal(err)
	}
	d, err := crddefaults.Load("../../config/crd/bases/operator.loom.dev_meshoperators.yaml", "v1alpha1")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Default(mesh); err != nil {
		t.Fatal(err)
	}
	vals, err := values.ControlPlane(&mesh.Spec)
	if err != nil {
		t.Fatal(err)
	}
	r, err := render.New()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := r.Render("control-plane", render.Release{Name: "mesh", Namespace: controlPlaneNamespace}, vals)
	if err != nil {
		t.Fatal(err)
	}
	var deploy *appsv1.Deployment
	var cm *corev1.ConfigMap
	for _, o := range objs {
		var target any
		switch o.GetKind() {
		case "Deployment":
			deploy = &appsv1.Deployment{}
			target = deploy
		case "ConfigMap":
			cm = &corev1.ConfigMap{}
			target = cm
		default:
			continue
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, target); err != nil {
			t.Fatal(err)
		}
	}
	if deploy == nil || cm == nil {
		t.Fatal("the control-plane chart renders no Deployment or no ConfigMap")
	}
	return deploy, cm
}

// withControlPlane adds the control plane of each MeshOperator spec to objs.
func withControlPlane(t *testing.T, objs []client.Object, specs ...string) []client.Object {
	t.Helper()
	for _, spec := range specs {
		deploy, cm := controlPlane(t, spec)
		objs = append(objs, deploy, cm)
	}
	return objs
}

// Control planes whose mesh settings change productpage's config.
const (
	defaultControlPlane = "{}"
	// tunedControlPlane times routes out after 3s, keeps traffic to registered hosts and
	// names workloads in the trust domain example.org.
	tunedControlPlane = `{meshConfig: {defaultTimeout: 3s, outboundTrafficPolicy: REGISTRY_ONLY, trustDomain: example.org}}`
	// revisionedControlPlane is revision 1-2-0 with a 9s route timeout.
	revisionedControlPlane = `{version: 1.2.0, updateStrategy: {type: RevisionBased}, meshConfig: {defaultTimeout: 9s}}`
)
