// Package loomcrds holds the CRDs of Loom's own mesh APIs (policy.loom.dev),
// which the operator installs with the mesh beside Istio's. The YAML under
// crds/ is controller-gen's output for api/policy/..., embedded unchanged:
//
//	bin/controller-gen-v0.23.0 crd paths="./api/policy/..." output:crd:artifacts:config=pkg/loomcrds/crds
package loomcrds

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

//go:embed crds/*.yaml
var files embed.FS

// CRDs decodes the embedded CRDs, sorted by file name.
func CRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	names, err := fs.Glob(files, "crds/*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	out := make([]*apiextensionsv1.CustomResourceDefinition, 0, len(names))
	for _, name := range names {
		data, err := files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(data, crd); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", name, err)
		}
		out = append(out, crd)
	}
	return out, nil
}

// Files returns the embedded YAML by file name, as controller-gen wrote it.
func Files() (map[string][]byte, error) {
	names, err := fs.Glob(files, "crds/*.yaml")
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, name := range names {
		data, err := files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		out[name[len("crds/"):]] = data
	}
	return out, nil
}
