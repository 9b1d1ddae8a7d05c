package controllers

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestPlanQualifiesLoomImages: the reconciler's ImageRegistry reaches the control plane's
// Deployment, and no registry leaves the image unqualified.
func TestPlanQualifiesLoomImages(t *testing.T) {
	for _, tc := range []struct{ registry, want string }{
		{"", "loom:v"},
		{"localhost:5000/mirror", "localhost:5000/mirror/loom:v"},
	} {
		r := reconcilerWithCRDs(t)
		r.ImageRegistry = tc.registry
		components, err := r.plan(minimalMesh(t))
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, c := range components {
			if c.name != "control-plane" {
				continue
			}
			for _, o := range c.objects {
				if o.GetKind() != "Deployment" {
					continue
				}
				containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
				image, _ := containers[0].(map[string]any)["image"].(string)
				if !strings.HasPrefix(image, tc.want) {
					t.Errorf("registry %q: control-plane image %q, want prefix %q", tc.registry, image, tc.want)
				}
				found = true
			}
		}
		if !found {
			t.Errorf("registry %q: no control-plane Deployment planned", tc.registry)
		}
	}
}
