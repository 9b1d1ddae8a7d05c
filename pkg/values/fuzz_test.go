package values

import (
	"encoding/json"
	"errors"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/pkg/render"
)

// FuzzRenderFromSpec feeds arbitrary specs and chart overrides through values and rendering:
// bad input must come back as an error, never a panic, and a successful render must give
// objects with a kind and a name.
func FuzzRenderFromSpec(f *testing.F) {
	f.Add([]byte(`{"profile":"production","gateways":[{"name":"in","type":"Ingress"}]}`), []byte(`{"replicas":2}`))
	f.Add([]byte(`{"controlPlane":{"replicas":3,"env":[{"name":"A","value":"b"}]}}`), []byte(`{"image":{"repository":"x"}}`))
	f.Add([]byte(`{"addons":{"prometheus":{"enabled":true,"storage":{"size":"1Gi"}}}}`), []byte(`{"replicas":"three"}`))
	f.Add([]byte(`{"gateways":[{"name":"e","type":"Egress","service":{"ports":[{"name":"tls","port":443}]}}]}`), []byte(`null`))
	f.Add([]byte(`{}`), []byte(`{"meshConfig":{"x":[1,2,{"y":null}]}}`))
	r, err := render.New()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, specJSON, overrides []byte) {
		spec := &operatorv1alpha1.MeshOperatorSpec{}
		if json.Unmarshal(specJSON, spec) != nil {
			return
		}
		spec.Namespace = "fuzz"
		if json.Valid(overrides) {
			spec.Values.ControlPlane = jsonValue(overrides)
			spec.Values.Gateway = jsonValue(overrides)
		}
		check := func(chart string, vals map[string]any, err error) {
			if err != nil {
				return
			}
			objs, err := r.Render(chart, render.Release{Name: "fuzz", Namespace: "fuzz"}, vals)
			var invalid *render.InvalidValuesError
			if err != nil && !errors.As(err, &invalid) {
				// Templates may still fail on odd types; that must be an error, which it is.
				return
			}
			for _, o := range objs {
				if o.GetKind() == "" || o.GetName() == "" {
					t.Fatalf("chart %s rendered an object without kind or name: %v", chart, o.Object)
				}
			}
		}
		vals, err := ControlPlane(spec)
		check(render.ControlPlane, vals, err)
		for i := range spec.Gateways {
			vals, err := Gateway(spec, &spec.Gateways[i])
			check(render.Gateway, vals, err)
		}
		vals, err = Prometheus(spec)
		check(render.Prometheus, vals, err)
	})
}

func jsonValue(raw []byte) *apiextensionsv1.JSON { return &apiextensionsv1.JSON{Raw: raw} }
