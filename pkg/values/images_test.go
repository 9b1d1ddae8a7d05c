package values

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/internal/golden"
	"loom.dev/loom/pkg/render"
)

func TestQualifyImage(t *testing.T) {
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct{ registry, image, want string }{
		{"", "loom:v1.1.0", "loom:v1.1.0"},
		{"quay.io/loom", "loom:v1.1.0", "quay.io/loom/loom:v1.1.0"},
		{"quay.io/loom/", "loom-proxy:v1.1.0", "quay.io/loom/loom-proxy:v1.1.0"},
		{"quay.io/loom//", "loom", "quay.io/loom/loom"},
		{"localhost:5000", "loom:v1.1.0", "localhost:5000/loom:v1.1.0"},
		{"mirror.example.com:8443/team", "loom@" + digest, "mirror.example.com:8443/team/loom@" + digest},
		{"mirror.example.com", "loom:v1.1.0@" + digest, "mirror.example.com/loom:v1.1.0@" + digest},
		{"mirror.example.com", "org/loom:v1", "mirror.example.com/org/loom:v1"},
		// References that name a registry already keep it.
		{"mirror.example.com", "ghcr.io/org/loom:v1", "ghcr.io/org/loom:v1"},
		{"mirror.example.com", "registry:5000/loom:v1", "registry:5000/loom:v1"},
		{"mirror.example.com", "localhost/loom:v1", "localhost/loom:v1"},
		{"mirror.example.com", "", ""},
		{"/", "loom:v1", "loom:v1"},
	} {
		if got := QualifyImage(tc.registry, tc.image); got != tc.want {
			t.Errorf("QualifyImage(%q, %q) = %q, want %q", tc.registry, tc.image, got, tc.want)
		}
	}
}

func TestValidateImageRegistry(t *testing.T) {
	for _, ok := range []string{"", "quay.io", "quay.io/loom/", "localhost:5000", "10.0.0.1:5000/mirror"} {
		if err := ValidateImageRegistry(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"/", "https://quay.io", "quay.io/loom@sha256:00", "quay .io", "quay.io//loom", "/quay.io"} {
		err := ValidateImageRegistry(bad)
		if err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: got %v, want an error naming it", bad, err)
		}
	}
}

// TestWithImageRegistryLeavesValuesAlone: the values given are not modified, and an empty
// registry returns them as they are (so the default rendering is unchanged).
func TestWithImageRegistryLeavesValuesAlone(t *testing.T) {
	spec := &sample(t, "production").Spec
	for _, chart := range []string{render.ControlPlane, render.Gateway} {
		vals, err := chartValues(spec, chart)
		if err != nil {
			t.Fatal(err)
		}
		before, _ := toValue(vals)
		if got := WithImageRegistry(chart, vals, ""); !reflect.DeepEqual(got, vals) {
			t.Errorf("%s: an empty registry changed the values", chart)
		}
		if got := WithImageRegistry(chart, vals, "quay.io/loom"); reflect.DeepEqual(got, vals) {
			t.Errorf("%s: the registry did not change the values", chart)
		}
		if after, _ := toValue(vals); !reflect.DeepEqual(before, after) {
			t.Errorf("%s: WithImageRegistry modified its input", chart)
		}
	}
}

func chartValues(spec *operatorv1alpha1.MeshOperatorSpec, chart string) (map[string]any, error) {
	if chart == render.Gateway {
		return Gateway(spec, &spec.Gateways[0])
	}
	return ControlPlane(spec)
}

// TestRenderedImagesCarryTheRegistry renders every chart of every profile with and without a
// registry: with one, each Loom image (container images and the injected agent and proxy
// images) starts with it and no third-party image does; without one, no image changes.
func TestRenderedImagesCarryTheRegistry(t *testing.T) {
	const registry = "mirror.example.com:5000/loom-mirror"
	for _, profile := range profileNames {
		spec := &sample(t, profile).Spec
		for _, c := range chartsOf(t, spec) {
			plain := renderChart(t, c.chart, c.namespace, c.vals, nil)
			if same := renderChart(t, c.chart, c.namespace, WithImageRegistry(c.chart, c.vals, ""), nil); !reflect.DeepEqual(plain, same) {
				t.Errorf("%s/%s: an empty registry changed the rendering", profile, c.name)
			}
			qualified := renderChart(t, c.chart, c.namespace, WithImageRegistry(c.chart, c.vals, registry+"/"), nil)
			plainImages, images := imagesIn(plain), imagesIn(qualified)
			if len(images) == 0 || len(images) != len(plainImages) {
				t.Fatalf("%s/%s: images %v with the registry, %v without", profile, c.name, images, plainImages)
			}
			loomImages := 0
			for i, image := range images {
				loom := isLoomImage(plainImages[i])
				if loom {
					loomImages++
				}
				switch {
				case strings.HasPrefix(plainImages[i], registry):
					t.Errorf("%s/%s: %s carries the registry without one set", profile, c.name, plainImages[i])
				case loom && image != registry+"/"+plainImages[i]:
					t.Errorf("%s/%s: Loom image %s, want %s/%s", profile, c.name, image, registry, plainImages[i])
				case !loom && image != plainImages[i]:
					t.Errorf("%s/%s: third-party image %s became %s", profile, c.name, plainImages[i], image)
				}
			}
			// The control plane runs loom and injects loom and loom-proxy; a gateway runs loom.
			if want := map[string]int{render.ControlPlane: 3, render.Gateway: 1}[c.chart]; loomImages != want {
				t.Errorf("%s/%s: %d Loom images in %v, want %d", profile, c.name, loomImages, plainImages, want)
			}
		}
	}
}

// TestControlPlaneRegistryGolden pins the demo control plane rendered with a registry.
func TestControlPlaneRegistryGolden(t *testing.T) {
	spec := &sample(t, "demo").Spec
	vals, err := ControlPlane(spec)
	objs := renderChart(t, render.ControlPlane, spec.Namespace, WithImageRegistry(render.ControlPlane, vals, "quay.io/loom"), err)
	golden.Assert(t, "testdata/control-plane-demo-registry.yaml", manifest(t, objs))
}

type chartRender struct {
	name, chart, namespace string
	vals                   map[string]any
}

func chartsOf(t *testing.T, spec *operatorv1alpha1.MeshOperatorSpec) []chartRender {
	t.Helper()
	must := func(v map[string]any, err error) map[string]any {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	out := []chartRender{{"control-plane", render.ControlPlane, spec.Namespace, must(ControlPlane(spec))}}
	for i := range spec.Gateways {
		gw := &spec.Gateways[i]
		out = append(out, chartRender{"gateway-" + gw.Name, render.Gateway, GatewayNamespace(spec, gw), must(Gateway(spec, gw))})
	}
	out = append(out,
		chartRender{"prometheus", render.Prometheus, spec.Namespace, must(Prometheus(spec))},
		chartRender{"grafana", render.Grafana, spec.Namespace, must(Grafana(spec))},
		chartRender{"jaeger", render.Jaeger, spec.Namespace, must(Jaeger(spec))})
	return out
}

// imagesIn lists, in order, every container image and every image an --inject-*-image flag
// names in the objects.
func imagesIn(objs []*unstructured.Unstructured) []string {
	var images []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if image, ok := v["image"].(string); ok {
				images = append(images, image)
			}
			for _, key := range []string{"initContainers", "containers", "args", "spec", "template"} {
				walk(v[key])
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		case string:
			if flag, image, ok := strings.Cut(v, "="); ok && strings.HasPrefix(flag, "--inject-") && strings.HasSuffix(flag, "-image") {
				images = append(images, image)
			}
		}
	}
	for _, o := range objs {
		walk(o.Object)
	}
	return images
}

func isLoomImage(image string) bool {
	return image == "loom" || strings.HasPrefix(image, "loom:") || strings.HasPrefix(image, "loom-proxy:")
}
