package values

import (
	"bytes"
	"encoding/json"
	"fmt"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

// EffectiveMeshConfig is the mesh config the control plane reads: spec.meshConfig with the
// chart overrides of spec.values.controlPlane.meshConfig merged over it.
func EffectiveMeshConfig(spec *operatorv1alpha1.MeshOperatorSpec) (*operatorv1alpha1.MeshConfigSpec, error) {
	vals, err := ControlPlane(spec)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(vals["meshConfig"])
	if err != nil {
		return nil, fmt.Errorf("spec.values.controlPlane.meshConfig: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields() // loom discovery reads the file strictly too
	var mc operatorv1alpha1.MeshConfigSpec
	if err := dec.Decode(&mc); err != nil {
		return nil, fmt.Errorf("spec.values.controlPlane.meshConfig: %w", err)
	}
	return &mc, nil
}
