package helmchart

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

// The operator's tracing flags appear only when tracing.otlpEndpoint is set, and
// --tracing-sample-ratio only when tracing.sampleRatio is set as well (0 included).
func TestTemplateTracingFlagsOnlyWhenSet(t *testing.T) {
	const endpoint = "--tracing-otlp-endpoint=jaeger-collector.mesh.svc:4317"
	for _, tc := range []struct {
		name    string
		tracing map[string]any
		want    []string
	}{
		{"defaults", nil, nil},
		{"a ratio without an endpoint", map[string]any{"sampleRatio": 0.5}, nil},
		{"an endpoint", map[string]any{"otlpEndpoint": "jaeger-collector.mesh.svc:4317"}, []string{endpoint}},
		{"an endpoint and a ratio", map[string]any{"otlpEndpoint": "jaeger-collector.mesh.svc:4317", "sampleRatio": 0.1},
			[]string{endpoint, "--tracing-sample-ratio=0.1"}},
		{"a ratio of 0", map[string]any{"otlpEndpoint": "jaeger-collector.mesh.svc:4317", "sampleRatio": 0},
			[]string{endpoint, "--tracing-sample-ratio=0"}},
	} {
		vals := map[string]any{}
		if tc.tracing != nil {
			vals["tracing"] = tc.tracing
		}
		objs := renderObjects(t, vals)
		var d appsv1.Deployment
		objs.get(t, "Deployment/loom-operator", &d)
		var got []string
		for _, a := range d.Spec.Template.Spec.Containers[0].Args {
			if strings.HasPrefix(a, "--tracing-") {
				got = append(got, a)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: tracing flags %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestTemplateTracingValuesAreChecked(t *testing.T) {
	for _, tc := range []struct {
		tracing map[string]any
		want    string
	}{
		{map[string]any{"otlpEndpoint": "http://jaeger:4317"}, "/tracing/otlpEndpoint"},
		{map[string]any{"otlpEndpoint": "jaeger:4317", "sampleRatio": 2}, "/tracing/sampleRatio"},
		{map[string]any{"otlpEndpoint": "jaeger:4317", "sampleRatio": "all"}, "/tracing/sampleRatio"},
		{map[string]any{"endpoint": "jaeger:4317"}, "endpoint"},
	} {
		_, _, err := template(loadChart(t, chartDir), map[string]any{"tracing": tc.tracing})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("tracing %v: err = %v, want one naming %s", tc.tracing, err, tc.want)
		}
	}
}
