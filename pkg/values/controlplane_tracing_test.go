package values

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"loom.dev/loom/pkg/render"
)

// tracingArgs renders the control plane of a MeshOperator manifest and returns the
// discovery container's --tracing-* flags.
func tracingArgs(t *testing.T, manifest string) ([]string, error) {
	t.Helper()
	objs, err := renderControlPlane(t, defaulted(t, []byte(manifest)))
	if err != nil {
		return nil, err
	}
	deploy := find(objs, "Deployment")
	containers, _, err := unstructured.NestedSlice(deploy.Object, "spec", "template", "spec", "containers")
	if err != nil || len(containers) == 0 {
		t.Fatalf("the Deployment has no containers (%v)", err)
	}
	args, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
	var out []string
	for _, a := range args {
		if strings.HasPrefix(a, "--tracing-") {
			out = append(out, a)
		}
	}
	return out, nil
}

// The control plane's own tracing flags appear only when an OTLP endpoint applies (the Jaeger
// add-on as mesh tracing's collector, or tracing.otlpEndpoint), and --tracing-sample-ratio
// only when spec.values.controlPlane.tracing.sampleRatio is set as well (0 included).
func TestControlPlaneTracingFlagsOnlyWhenSet(t *testing.T) {
	const head = "apiVersion: operator.loom.dev/v1alpha1\nkind: MeshOperator\nmetadata: {name: traced}\nspec:\n  namespace: mesh\n"
	const jaegerTracing = "  addons: {jaeger: {enabled: true}}\n  meshConfig: {tracing: {enabled: true}}\n"
	const jaegerEndpoint = "--tracing-otlp-endpoint=jaeger-collector.mesh.svc:4317"
	for _, tc := range []struct {
		name, spec string
		want       []string
	}{
		{"tracing off", "", nil},
		{"Jaeger add-on without mesh tracing", "  addons: {jaeger: {enabled: true}}\n", nil},
		{"a ratio without an endpoint", "  values: {controlPlane: {tracing: {sampleRatio: 0.5}}}\n", nil},
		{"mesh tracing to a Zipkin collector of its own", "  meshConfig: {tracing: {enabled: true, collectorAddress: \"zipkin.tracing:9411\"}}\n", nil},
		{"mesh tracing to the Jaeger add-on", jaegerTracing, []string{jaegerEndpoint}},
		{"and a sample ratio", jaegerTracing + "  values: {controlPlane: {tracing: {sampleRatio: 0.25}}}\n",
			[]string{jaegerEndpoint, "--tracing-sample-ratio=0.25"}},
		{"and a ratio of 0", jaegerTracing + "  values: {controlPlane: {tracing: {sampleRatio: 0}}}\n",
			[]string{jaegerEndpoint, "--tracing-sample-ratio=0"}},
		{"an endpoint of its own, mesh tracing off", "  values: {controlPlane: {tracing: {otlpEndpoint: \"otel.observability:4317\", sampleRatio: 1}}}\n",
			[]string{"--tracing-otlp-endpoint=otel.observability:4317", "--tracing-sample-ratio=1"}},
		{"an endpoint of its own wins over the add-on", jaegerTracing + "  values: {controlPlane: {tracing: {otlpEndpoint: \"otel.observability:4317\"}}}\n",
			[]string{"--tracing-otlp-endpoint=otel.observability:4317"}},
	} {
		got, err := tracingArgs(t, head+tc.spec)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: tracing flags %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestControlPlaneTracingValuesAreChecked(t *testing.T) {
	const head = "apiVersion: operator.loom.dev/v1alpha1\nkind: MeshOperator\nmetadata: {name: traced}\nspec:\n  values: {controlPlane: {tracing: "
	for _, tc := range []struct{ tracing, want string }{
		{"{sampleRatio: 1.5}", "/tracing/sampleRatio"},
		{"{sampleRatio: lots}", "/tracing/sampleRatio"},
		{"{otlpEndpoint: \"http://otel:4317\"}", "/tracing/otlpEndpoint"},
		{"{endpoint: \"otel:4317\"}", "endpoint"},
	} {
		_, err := tracingArgs(t, head+tc.tracing+"}}\n")
		var invalid *render.InvalidValuesError
		if !errors.As(err, &invalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("tracing %s: got %v, want an InvalidValuesError naming %s", tc.tracing, err, tc.want)
		}
	}
}
