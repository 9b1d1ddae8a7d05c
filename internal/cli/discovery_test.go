package cli

import (
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/internal/crddefaults"
	"loom.dev/loom/pkg/render"
	"loom.dev/loom/pkg/values"
)

// TestDiscoveryReadsTheOperatorsMeshConfig renders the control-plane chart as
// the operator does and reads the mounted mesh.yaml as `loom discovery` does.
func TestDiscoveryReadsTheOperatorsMeshConfig(t *testing.T) {
	mesh := &operatorv1alpha1.MeshOperator{}
	if err := yaml.UnmarshalStrict([]byte(`{"spec": {"meshConfig": {"outboundTrafficPolicy": "REGISTRY_ONLY"}}}`), mesh); err != nil {
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
	objs, err := r.Render("control-plane", render.Release{Name: "mesh", Namespace: "istio-system"}, vals)
	if err != nil {
		t.Fatal(err)
	}
	var meshYAML string
	for _, o := range objs {
		if o.GetKind() == "ConfigMap" {
			if data, ok := o.Object["data"].(map[string]any)["mesh.yaml"].(string); ok {
				meshYAML = data
			}
		}
	}
	if meshYAML == "" {
		t.Fatal("the control-plane chart renders no ConfigMap with mesh.yaml")
	}
	path := filepath.Join(t.TempDir(), "mesh.yaml")
	if err := os.WriteFile(path, []byte(meshYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	mc, err := readMeshConfig(path)
	if err != nil {
		t.Fatalf("discovery refuses the operator's mesh config: %v\n%s", err, meshYAML)
	}
	if mc.OutboundTrafficPolicy != "REGISTRY_ONLY" {
		t.Errorf("outboundTrafficPolicy read as %q, want REGISTRY_ONLY", mc.OutboundTrafficPolicy)
	}
}

func TestDiscoveryRefusesAnUnknownMeshConfigField(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mesh.yaml")
	if err := os.WriteFile(path, []byte("outboundTrafficPolicy: REGISTRY_ONLY\nnoSuchField: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readMeshConfig(path); err == nil {
		t.Error("an unknown field in the mesh config was accepted")
	}
}
