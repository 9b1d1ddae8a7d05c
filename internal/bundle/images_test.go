package bundle

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"loom.dev/loom/pkg/render"
	"loom.dev/loom/pkg/values"
)

// generatedCSV generates the bundle with opts and returns its ClusterServiceVersion.
func generatedCSV(t *testing.T, opts Options) *operatorsv1alpha1.ClusterServiceVersion {
	t.Helper()
	dir := t.TempDir()
	if err := Generate(opts, filepath.Join(dir, "bundle"), filepath.Join(dir, "catalog")); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "bundle", ManifestsDir, CSVFile))
	if err != nil {
		t.Fatal(err)
	}
	var csv operatorsv1alpha1.ClusterServiceVersion
	if err := yaml.UnmarshalStrict(data, &csv); err != nil {
		t.Fatalf("CSV: %v", err)
	}
	return &csv
}

func relatedImage(csv *operatorsv1alpha1.ClusterServiceVersion, name string) string {
	for _, r := range csv.Spec.RelatedImages {
		if r.Name == name {
			return r.Image
		}
	}
	return ""
}

func operatorContainer(t *testing.T, csv *operatorsv1alpha1.ClusterServiceVersion) (image, registryEnv string) {
	t.Helper()
	deployments := csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs
	if len(deployments) != 1 || len(deployments[0].Spec.Template.Spec.Containers) == 0 {
		t.Fatalf("CSV deployments %d; want one with a container", len(deployments))
	}
	c := deployments[0].Spec.Template.Spec.Containers[0]
	found := false
	for _, env := range c.Env {
		if env.Name == ImageRegistryEnv {
			registryEnv, found = env.Value, true
		}
	}
	if !found {
		t.Fatalf("operator container has no %s env", ImageRegistryEnv)
	}
	return c.Image, registryEnv
}

// The image registry reaches the operator (its env), its own image, and relatedImages for
// Loom's images, while third-party images keep theirs.
func TestImageRegistryQualifiesLoomImages(t *testing.T) {
	for _, tc := range []struct {
		registry                             string
		operator, controlPlane, proxy, envoy string
	}{
		{registry: DefaultRegistry, operator: "ghcr.io/loom-dev/loom:v0.1.0", controlPlane: "ghcr.io/loom-dev/loom:v1.1.0", proxy: "ghcr.io/loom-dev/loom-proxy:v1.1.0", envoy: "docker.io/envoyproxy/envoy:v1.35.3"},
		{registry: "registry.example.com:5000/mirror/", operator: "registry.example.com:5000/mirror/loom:v0.1.0", controlPlane: "registry.example.com:5000/mirror/loom:v1.1.0", proxy: "registry.example.com:5000/mirror/loom-proxy:v1.1.0", envoy: "docker.io/envoyproxy/envoy:v1.35.3"},
		// No registry: unqualified names, as `loom operator` deploys them without one.
		{registry: "", operator: "loom:v0.1.0", controlPlane: "docker.io/library/loom:v1.1.0", proxy: "docker.io/library/loom-proxy:v1.1.0", envoy: "docker.io/envoyproxy/envoy:v1.35.3"},
	} {
		opts := rootOptions()
		opts.ImageRegistry = tc.registry
		csv := generatedCSV(t, opts)
		image, env := operatorContainer(t, csv)
		if image != tc.operator || env != tc.registry {
			t.Errorf("registry %q: operator image %q, %s=%q; want %q, %q", tc.registry, image, ImageRegistryEnv, env, tc.operator, tc.registry)
		}
		if csv.Annotations["containerImage"] != tc.operator {
			t.Errorf("registry %q: containerImage annotation %q; want %q", tc.registry, csv.Annotations["containerImage"], tc.operator)
		}
		for name, want := range map[string]string{"operator": tc.operator, "control-plane": tc.controlPlane, "proxy": tc.proxy, "gateway": tc.envoy} {
			if got := relatedImage(csv, name); got != want {
				t.Errorf("registry %q: relatedImages %s = %q; want %q", tc.registry, name, got, want)
			}
		}
	}
}

// relatedImages name every image the operator deploys for the control plane and a
// gateway under a registry: the charts rendered as the operator renders them
// (values.WithImageRegistry) give the images to look for.
func TestRelatedImagesCoverWhatTheOperatorRenders(t *testing.T) {
	const registry = "quay.io/mirror"
	opts := rootOptions()
	opts.ImageRegistry = registry
	csv := generatedCSV(t, opts)
	related := map[string]bool{}
	for _, r := range csv.Spec.RelatedImages {
		related[r.Image] = true
	}
	renderer, err := render.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, chart := range []string{render.ControlPlane, render.Gateway} {
		objects, err := renderer.Render(chart, render.Release{Name: "loom", Namespace: "loom-system"}, values.WithImageRegistry(chart, map[string]any{}, registry))
		if err != nil {
			t.Fatalf("render %s: %v", chart, err)
		}
		var images []string
		for _, obj := range objects {
			if obj.GetKind() != "Deployment" {
				continue
			}
			containers, _, _ := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "containers")
			initContainers, _, _ := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "initContainers")
			for _, c := range append(containers, initContainers...) {
				cm, _ := c.(map[string]any)
				image, _ := cm["image"].(string)
				images = append(images, image)
				args, _ := cm["args"].([]any)
				for _, a := range args {
					if s, _ := a.(string); strings.HasPrefix(s, "--inject-proxy-image=") {
						images = append(images, strings.TrimPrefix(s, "--inject-proxy-image="))
					}
				}
			}
		}
		if len(images) == 0 {
			t.Fatalf("chart %s rendered no Deployment containers", chart)
		}
		for _, image := range images {
			if !related[qualify(image)] {
				t.Errorf("chart %s deploys %s (%s), which relatedImages do not list: %v", chart, image, qualify(image), csv.Spec.RelatedImages)
			}
		}
	}
}

func TestBundleRefusesABadRegistry(t *testing.T) {
	opts := rootOptions()
	opts.ImageRegistry = "https://quay.io/mirror"
	err := Generate(opts, filepath.Join(t.TempDir(), "bundle"), filepath.Join(t.TempDir(), "catalog"))
	if err == nil || !strings.Contains(err.Error(), "not a URL") {
		t.Errorf("registry with a scheme: error %v; want one saying it is not a URL", err)
	}
}

// The registry reaches the operator only through config/manager's env: without it the
// generator says so rather than writing a bundle whose operator ignores the registry.
func TestBundleNeedsTheRegistryEnvInConfigManager(t *testing.T) {
	config := filepath.Join(t.TempDir(), "config")
	copyTree(t, filepath.Join(repoRoot, "config"), config)
	manager := filepath.Join(config, "manager", "manager.yaml")
	data, err := os.ReadFile(manager)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(data), "name: "+ImageRegistryEnv, "name: SOMETHING_ELSE", 1)
	if changed == string(data) {
		t.Fatalf("config/manager/manager.yaml declares no %s to remove", ImageRegistryEnv)
	}
	if err := os.WriteFile(manager, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := rootOptions()
	opts.ConfigDir = config
	err = Generate(opts, filepath.Join(t.TempDir(), "bundle"), filepath.Join(t.TempDir(), "catalog"))
	if err == nil || !strings.Contains(err.Error(), "no env "+ImageRegistryEnv) {
		t.Errorf("config/manager without %s: error %v; want one naming it", ImageRegistryEnv, err)
	}
}
