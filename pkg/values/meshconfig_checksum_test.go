package values

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

const checksumAnnotation = "checksum/mesh-config"

// meshConfigChecksum renders the control plane and returns its pod template's mesh-config
// checksum, checking that it is the checksum of the mesh.yaml the ConfigMap carries.
func meshConfigChecksum(t *testing.T, mesh *operatorv1alpha1.MeshOperator) string {
	t.Helper()
	objs, err := renderControlPlane(t, mesh)
	if err != nil {
		t.Fatal(err)
	}
	annotations, _, _ := unstructured.NestedStringMap(find(objs, "Deployment").Object, "spec", "template", "metadata", "annotations")
	got := annotations[checksumAnnotation]
	meshYAML, _, _ := unstructured.NestedString(find(objs, "ConfigMap").Object, "data", "mesh.yaml")
	if sum := sha256.Sum256([]byte(meshYAML)); got != hex.EncodeToString(sum[:]) {
		t.Fatalf("pod template annotation %s=%q is not the checksum of the ConfigMap's mesh.yaml:\n%s", checksumAnnotation, got, meshYAML)
	}
	return got
}

// TestMeshConfigChangeRollsTheControlPlane: loom discovery reads its mesh config at start, so
// a change to it must change the pod template; nothing else may, or every unrelated change
// would restart the control plane for no reason.
func TestMeshConfigChangeRollsTheControlPlane(t *testing.T) {
	base := meshConfigChecksum(t, sample(t, "default"))
	for _, tc := range []struct {
		name  string
		edit  func(*operatorv1alpha1.MeshOperatorSpec)
		rolls bool
	}{
		{"outboundTrafficPolicy", func(s *operatorv1alpha1.MeshOperatorSpec) { s.MeshConfig.OutboundTrafficPolicy = "REGISTRY_ONLY" }, true},
		{"defaultTimeout", func(s *operatorv1alpha1.MeshOperatorSpec) {
			s.MeshConfig.DefaultTimeout = &metav1.Duration{Duration: 3 * time.Second}
		}, true},
		{"meshConfig through spec.values", func(s *operatorv1alpha1.MeshOperatorSpec) {
			s.Values.ControlPlane = &apiextensionsv1.JSON{Raw: []byte(`{"meshConfig":{"outboundTrafficPolicy":"REGISTRY_ONLY"}}`)}
		}, true},
		{"replicas", func(s *operatorv1alpha1.MeshOperatorSpec) { s.ControlPlane.Replicas = ptr.To[int32](3) }, false},
		{"log level", func(s *operatorv1alpha1.MeshOperatorSpec) { s.ControlPlane.LogLevel = "debug" }, false},
		{"version", func(s *operatorv1alpha1.MeshOperatorSpec) { s.Version = "1.0.0" }, false},
		{"a gateway", func(s *operatorv1alpha1.MeshOperatorSpec) {
			s.Gateways = append(s.Gateways, operatorv1alpha1.GatewaySpec{Name: "ingress", Type: operatorv1alpha1.IngressGateway})
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mesh := sample(t, "default")
			tc.edit(&mesh.Spec)
			if got := meshConfigChecksum(t, mesh); (got != base) != tc.rolls {
				t.Errorf("checksum %s, before %s: want a change=%v", got, base, tc.rolls)
			}
		})
	}
}
