package discovery

import (
	"testing"

	"loom.dev/loom/pkg/model"
)

// A Telemetry as the API server serves it reaches the model with its
// selector and access logging; a bad field is named.
func TestTelemetryIsConverted(t *testing.T) {
	k := telemetryKind()
	if !k.enforced() || k.crd != "telemetries.telemetry.istio.io" || k.gvk.Version != "v1" {
		t.Fatalf("Telemetry kind: %+v %s", k.gvk, k.crd)
	}
	obj := map[string]any{
		"apiVersion": "telemetry.istio.io/v1", "kind": "Telemetry",
		"metadata": map[string]any{"name": "logs", "namespace": "web", "generation": int64(2)},
		"spec": map[string]any{
			"selector":      map[string]any{"matchLabels": map[string]any{"app": "a"}},
			"accessLogging": []any{map[string]any{"providers": []any{map[string]any{"name": "envoy"}}, "filter": map[string]any{"expression": "response.code >= 400"}}},
		},
	}
	typed := k.typed()
	if field, err := k.decode(obj, typed); err != nil {
		t.Fatalf("decode: %s: %v", field, err)
	}
	var in model.Input
	k.add(&in, typed)
	if len(in.Telemetries) != 1 {
		t.Fatalf("telemetries: %v", in.Telemetries)
	}
	got := in.Telemetries[0]
	if got.Name != "logs" || got.Namespace != "web" || got.Spec.GetSelector().GetMatchLabels()["app"] != "a" ||
		got.Spec.GetAccessLogging()[0].GetFilter().GetExpression() != "response.code >= 400" {
		t.Errorf("converted %+v", got)
	}
	obj["spec"].(map[string]any)["tracing"] = []any{map[string]any{"randomSamplingPercentage": "lots"}}
	if field, err := k.decode(obj, k.typed()); err == nil || field != "spec.tracing[0].randomSamplingPercentage" {
		t.Errorf("bad sampling: field %q, err %v", field, err)
	}
}
