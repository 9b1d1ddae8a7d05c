package bundle

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A change in config/ shows in the generated CSV, so the currency check catches it.
func TestConfigChangeChangesTheBundle(t *testing.T) {
	config := filepath.Join(t.TempDir(), "config")
	copyTree(t, filepath.Join(repoRoot, "config"), config)
	manager := filepath.Join(config, "manager", "manager.yaml")
	data, err := os.ReadFile(manager)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(data), "memory: 64Mi", "memory: 96Mi", 1)
	if changed == string(data) {
		t.Fatal("config/manager/manager.yaml has no 64Mi memory request to change")
	}
	if err := os.WriteFile(manager, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := rootOptions()
	opts.ConfigDir = config
	out := t.TempDir()
	if err := Generate(opts, filepath.Join(out, "bundle"), filepath.Join(out, "catalog")); err != nil {
		t.Fatal(err)
	}
	fresh, err := os.ReadFile(filepath.Join(out, "bundle", ManifestsDir, CSVFile))
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile(filepath.Join(repoRoot, "bundle", ManifestsDir, CSVFile))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(fresh, committed) || !bytes.Contains(fresh, []byte("memory: 96Mi")) {
		t.Error("the CSV generated from a changed config/manager does not carry the change")
	}
}

func TestCSVContent(t *testing.T) {
	bundleDir, _ := generated(t)
	data, err := os.ReadFile(filepath.Join(bundleDir, ManifestsDir, CSVFile))
	if err != nil {
		t.Fatal(err)
	}
	var csv unstructured.Unstructured
	if err := yaml.Unmarshal(data, &csv.Object); err != nil {
		t.Fatal(err)
	}
	modes, _, _ := unstructured.NestedSlice(csv.Object, "spec", "installModes")
	for _, m := range modes {
		mode := m.(map[string]any)
		if want := mode["type"] == "AllNamespaces"; mode["supported"] != want {
			t.Errorf("install mode %v supported=%v; want only AllNamespaces", mode["type"], mode["supported"])
		}
	}
	deployments, _, _ := unstructured.NestedSlice(csv.Object, "spec", "install", "spec", "deployments")
	if len(deployments) != 1 {
		t.Fatalf("%d deployments; want config/manager's one", len(deployments))
	}
	containers, _, _ := unstructured.NestedSlice(deployments[0].(map[string]any), "spec", "template", "spec", "containers")
	if image, want := containers[0].(map[string]any)["image"], DefaultRegistry+"/loom:v"+DefaultVersion; image != want {
		t.Errorf("operator container image %v; want %s", image, want)
	}
	examples, _, _ := unstructured.NestedString(csv.Object, "metadata", "annotations", "alm-examples")
	for _, sample := range []string{`"name": "loom"`, `"name": "loom-demo"`, `"name": "loom-minimal"`, `"name": "loom-production"`} {
		if !strings.Contains(examples, sample) {
			t.Errorf("alm-examples lack the config/samples object %s", sample)
		}
	}
	if strings.Index(examples, `"name": "loom"`) > strings.Index(examples, `"name": "loom-demo"`) {
		t.Error("alm-examples: the kustomization's sample (loom, default profile) should come first")
	}
	owned, _, _ := unstructured.NestedSlice(csv.Object, "spec", "customresourcedefinitions", "owned")
	var specPaths []string
	for _, o := range owned {
		crd := o.(map[string]any)
		if crd["kind"] != "MeshOperator" {
			continue
		}
		specs, _ := crd["specDescriptors"].([]any)
		for _, s := range specs {
			d := s.(map[string]any)
			specPaths = append(specPaths, d["path"].(string))
			if d["description"] == "" || d["description"] == nil {
				t.Errorf("spec descriptor %v has no description", d["path"])
			}
			if d["path"] == "profile" && !strings.Contains(strings.Join(toStrings(d["x-descriptors"]), " "), "select:production") {
				t.Errorf("profile descriptor %v lacks the enum's select values", d["x-descriptors"])
			}
		}
	}
	if len(specPaths) != len(specDescriptors["MeshOperator"]) {
		t.Errorf("MeshOperator spec descriptors %v; want %d", specPaths, len(specDescriptors["MeshOperator"]))
	}
}

func toStrings(v any) []string {
	items, _ := v.([]any)
	out := make([]string, 0, len(items))
	for _, item := range items {
		s, _ := item.(string)
		out = append(out, s)
	}
	return out
}

func TestDescriptorPathMustExistInSchema(t *testing.T) {
	crds, err := loadKustomization(filepath.Join(repoRoot, "config", "crd"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = fieldDescriptor(crds[0], "v1alpha1", "spec", descriptor{path: "controlPlane.noSuchField"})
	if err == nil || !strings.Contains(err.Error(), `no field "noSuchField"`) {
		t.Errorf("missing field: error %v; want one naming noSuchField", err)
	}
	_, _, err = fieldDescriptor(crds[0], "v1alpha1", "spec", descriptor{path: "namespace", selectEnum: true})
	if err == nil || !strings.Contains(err.Error(), "enum") {
		t.Errorf("select without enum: error %v; want one about the enum", err)
	}
}

func TestQualify(t *testing.T) {
	for in, want := range map[string]string{
		"loom:v1":                  "docker.io/library/loom:v1",
		"prom/prometheus:v3":       "docker.io/prom/prometheus:v3",
		"ghcr.io/loom-dev/loom:v1": "ghcr.io/loom-dev/loom:v1",
		"localhost:5000/loom:v1":   "localhost:5000/loom:v1",
	} {
		if got := qualify(in); got != want {
			t.Errorf("qualify(%q) = %q; want %q", in, got, want)
		}
	}
}
