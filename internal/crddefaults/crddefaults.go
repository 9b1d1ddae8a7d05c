// Package crddefaults applies a CRD's schema defaults to an object in-process, exactly as the
// apiserver's structural defaulting does, so that unit tests see what `kubectl apply` stores.
package crddefaults

import (
	"encoding/json"
	"fmt"
	"os"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"sigs.k8s.io/yaml"
)

// Defaulter applies the defaults of one CRD version.
type Defaulter struct {
	schema *structuralschema.Structural
}

// Load reads a CRD manifest and prepares the defaults of the named version.
func Load(crdPath, version string) (*Defaulter, error) {
	data, err := os.ReadFile(crdPath)
	if err != nil {
		return nil, err
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(data, crd); err != nil {
		return nil, fmt.Errorf("%s: %w", crdPath, err)
	}
	for _, v := range crd.Spec.Versions {
		if v.Name != version || v.Schema == nil {
			continue
		}
		internal := &apiextensions.JSONSchemaProps{}
		if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, internal, nil); err != nil {
			return nil, err
		}
		s, err := structuralschema.NewStructural(internal)
		if err != nil {
			return nil, err
		}
		return &Defaulter{schema: s}, nil
	}
	return nil, fmt.Errorf("%s has no schema for version %s", crdPath, version)
}

// Default fills in the schema's defaults in obj, a pointer to a Go object of the CRD's kind.
func (d *Defaulter) Default(obj any) error {
	data, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	var u map[string]any
	if err := json.Unmarshal(data, &u); err != nil {
		return err
	}
	structuraldefaulting.Default(u, d.schema)
	if data, err = json.Marshal(u); err != nil {
		return err
	}
	return json.Unmarshal(data, obj)
}
