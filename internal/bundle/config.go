package bundle

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// kustomization is the part of a kustomization.yaml the generator reads: config/ uses
// only plain resource lists and one image override (the operator image, which the bundle
// sets itself).
type kustomization struct {
	Resources []string `json:"resources"`
}

// loadKustomization returns the objects of dir's kustomization.yaml, following resources
// that are directories (other kustomizations) in order.
func loadKustomization(dir string) ([]*unstructured.Unstructured, error) {
	path := filepath.Join(dir, "kustomization.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var k kustomization
	if err := yaml.Unmarshal(data, &k); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var objects []*unstructured.Unstructured
	for _, resource := range k.Resources {
		target := filepath.Join(dir, resource)
		info, err := os.Stat(target)
		if err != nil {
			return nil, fmt.Errorf("%s: resource %q: %w", path, resource, err)
		}
		var more []*unstructured.Unstructured
		if info.IsDir() {
			more, err = loadKustomization(target)
		} else {
			more, err = loadFile(target)
		}
		if err != nil {
			return nil, err
		}
		objects = append(objects, more...)
	}
	return objects, nil
}

// loadFile decodes every YAML document of path.
func loadFile(path string) ([]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objects []*unstructured.Unstructured
	for {
		var raw map[string]any
		if err := decoder.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return objects, nil
			}
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(raw) == 0 {
			continue
		}
		obj := &unstructured.Unstructured{Object: raw}
		if obj.GetKind() == "" || obj.GetAPIVersion() == "" {
			return nil, fmt.Errorf("%s: a document has no kind or apiVersion", path)
		}
		objects = append(objects, obj)
	}
}

// sources are the objects of config/ that go into the bundle.
type sources struct {
	crds        []*unstructured.Unstructured
	clusterRole *unstructured.Unstructured
	roles       []*unstructured.Unstructured
	deployment  *unstructured.Unstructured
	serviceAcct string
	samples     []*unstructured.Unstructured
}

func loadSources(configDir string) (*sources, error) {
	var s sources
	crds, err := loadKustomization(filepath.Join(configDir, "crd"))
	if err != nil {
		return nil, err
	}
	for _, obj := range crds {
		if obj.GetKind() != "CustomResourceDefinition" {
			return nil, fmt.Errorf("config/crd: %s %s is not a CustomResourceDefinition", obj.GetKind(), obj.GetName())
		}
		s.crds = append(s.crds, obj)
	}
	rbac, err := loadKustomization(filepath.Join(configDir, "rbac"))
	if err != nil {
		return nil, err
	}
	for _, obj := range rbac {
		switch obj.GetKind() {
		case "ClusterRole":
			if s.clusterRole != nil {
				return nil, fmt.Errorf("config/rbac: two ClusterRoles (%s, %s); the bundle maps one", s.clusterRole.GetName(), obj.GetName())
			}
			s.clusterRole = obj
		case "Role":
			s.roles = append(s.roles, obj)
		case "ServiceAccount":
			s.serviceAcct = obj.GetName()
		case "RoleBinding", "ClusterRoleBinding":
			// OLM binds the CSV's permissions to the ServiceAccount itself.
		default:
			return nil, fmt.Errorf("config/rbac: %s %s has no place in a bundle", obj.GetKind(), obj.GetName())
		}
	}
	manager, err := loadKustomization(filepath.Join(configDir, "manager"))
	if err != nil {
		return nil, err
	}
	for _, obj := range manager {
		switch obj.GetKind() {
		case "Deployment":
			if s.deployment != nil {
				return nil, fmt.Errorf("config/manager: two Deployments (%s, %s)", s.deployment.GetName(), obj.GetName())
			}
			s.deployment = obj
		case "Namespace":
			// OLM installs into the OperatorGroup's namespace.
		default:
			return nil, fmt.Errorf("config/manager: %s %s has no place in a bundle", obj.GetKind(), obj.GetName())
		}
	}
	if s.clusterRole == nil || s.deployment == nil || s.serviceAcct == "" {
		return nil, fmt.Errorf("config: want a ClusterRole and a ServiceAccount in config/rbac and a Deployment in config/manager")
	}
	s.samples, err = loadSamples(filepath.Join(configDir, "samples"))
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// loadSamples returns the kustomization's samples first (the console's default example),
// then every other YAML file of dir by name.
func loadSamples(dir string) ([]*unstructured.Unstructured, error) {
	listed, err := loadKustomization(dir)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, obj := range listed {
		seen[obj.GetKind()+"/"+obj.GetName()] = true
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	samples := listed
	for _, file := range files {
		if filepath.Base(file) == "kustomization.yaml" {
			continue
		}
		objects, err := loadFile(file)
		if err != nil {
			return nil, err
		}
		for _, obj := range objects {
			if key := obj.GetKind() + "/" + obj.GetName(); !seen[key] {
				seen[key] = true
				samples = append(samples, obj)
			}
		}
	}
	return samples, nil
}
