package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	networking "istio.io/api/networking/v1alpha3"
	"sigs.k8s.io/yaml"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/internal/crddefaults"
	"loom.dev/loom/internal/discovery"
	"loom.dev/loom/pkg/model"
	"loom.dev/loom/pkg/render"
	"loom.dev/loom/pkg/values"
)

// TestDiscoveryReadsTheOperatorsMeshConfig renders the control-plane chart as
// the operator does and reads the mounted mesh.yaml as `loom discovery` does.
func TestDiscoveryReadsTheOperatorsMeshConfig(t *testing.T) {
	mesh := &operatorv1alpha1.MeshOperator{}
	if err := yaml.UnmarshalStrict([]byte(`{"spec": {"meshConfig": {"outboundTrafficPolicy": "REGISTRY_ONLY",
		"defaultTimeout": "7s", "defaultRetries": {"attempts": 3, "perTryTimeout": "2s", "retryOn": "unavailable,503"}}}}`), mesh); err != nil {
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
	var opts discovery.Options
	if err := applyMeshConfig(&opts, path); err != nil {
		t.Fatalf("discovery refuses the operator's mesh config: %v\n%s", err, meshYAML)
	}
	if !opts.RegistryOnly {
		t.Error("outboundTrafficPolicy REGISTRY_ONLY was not read")
	}
	want := model.RouteDefaults{
		Timeout: durationpb.New(7 * time.Second),
		Retries: &networking.HTTPRetry{Attempts: 3, PerTryTimeout: durationpb.New(2 * time.Second), RetryOn: "unavailable,503"},
	}
	if !proto.Equal(opts.RouteDefaults.Timeout, want.Timeout) || !proto.Equal(opts.RouteDefaults.Retries, want.Retries) {
		t.Errorf("route defaults read as %v, %v; want %v, %v", opts.RouteDefaults.Timeout, opts.RouteDefaults.Retries, want.Timeout, want.Retries)
	}
}

func TestDiscoveryReadsMeshConfigWithoutRouteDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mesh.yaml")
	if err := os.WriteFile(path, []byte("outboundTrafficPolicy: ALLOW_ANY\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var opts discovery.Options
	if err := applyMeshConfig(&opts, path); err != nil {
		t.Fatal(err)
	}
	if opts.RegistryOnly || opts.RouteDefaults.Timeout != nil || opts.RouteDefaults.Retries != nil {
		t.Errorf("options %+v, want Istio's defaults", opts)
	}
}

// Route defaults that no route could use stop discovery at start, naming
// the field, instead of being dropped quietly.
func TestDiscoveryRefusesInvalidRouteDefaults(t *testing.T) {
	for _, tc := range []struct{ yaml, field string }{
		{"defaultTimeout: -1s\n", "defaultTimeout"},
		{"defaultRetries: {attempts: 2, retryOn: sometimes}\n", "defaultRetries.retryOn"},
		{"defaultRetries: {attempts: 2, perTryTimeout: 0s}\n", "defaultRetries.perTryTimeout"},
		{"defaultRetries: {attempts: -1}\n", "defaultRetries.attempts"},
	} {
		path := filepath.Join(t.TempDir(), "mesh.yaml")
		if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		err := applyMeshConfig(&discovery.Options{}, path)
		if err == nil || !strings.Contains(err.Error(), tc.field+":") {
			t.Errorf("%q: error %v, want one naming %s", tc.yaml, err, tc.field)
		}
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

// TestRestConfigFromFlagHasNoClientRateLimit: --kubeconfig gets the same client settings as
// the in-cluster config (no client-side limit), not client-go's 5 requests/s, which capped the
// mesh CA's TokenReviews (and so its certificates) at 5/s.
func TestRestConfigFromFlagHasNoClientRateLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	kc := "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"https://127.0.0.1:6443\"}}]\n" +
		"users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
	if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := restConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.QPS >= 0 {
		t.Fatalf("QPS %v: client-side rate limit on", cfg.QPS)
	}
}
