package discovery

import (
	"reflect"
	"testing"

	"loom.dev/loom/pkg/model"
)

func rateLimitKind(t *testing.T) istioKind {
	t.Helper()
	for _, k := range istioKinds() {
		if k.gvk.Kind == "RateLimitPolicy" {
			if !k.enforced() || k.crd != "ratelimitpolicies.policy.loom.dev" {
				t.Fatalf("RateLimitPolicy kind: %+v %s", k.gvk, k.crd)
			}
			return k
		}
	}
	t.Fatal("RateLimitPolicy is not watched")
	return istioKind{}
}

// A RateLimitPolicy as the API server serves it reaches the model with
// every field.
func TestRateLimitPolicyIsConverted(t *testing.T) {
	kind := rateLimitKind(t)
	obj := map[string]any{
		"apiVersion": "policy.loom.dev/v1alpha1", "kind": "RateLimitPolicy",
		"metadata": map[string]any{"name": "api", "namespace": "web", "generation": int64(2)},
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"app": "a"}},
			"rules": []any{map[string]any{
				"limit": map[string]any{"requests": int64(5), "unit": "Minute", "burst": int64(10)},
				"match": map[string]any{"routeName": "r", "path": map[string]any{"prefix": "/api"}, "method": "GET",
					"headers": []any{map[string]any{"name": "x-tier", "exact": "free"}}},
				"perClient": map[string]any{"header": "x-user"},
				"response":  map[string]any{"status": int64(503), "headers": []any{map[string]any{"name": "retry-after", "value": "1"}}},
			}},
		},
	}
	typed := kind.typed()
	if field, err := kind.decode(obj, typed); err != nil {
		t.Fatalf("decode: %s: %v", field, err)
	}
	var in model.Input
	kind.add(&in, typed)
	if len(in.RateLimitPolicies) != 1 {
		t.Fatalf("input has %d RateLimitPolicies", len(in.RateLimitPolicies))
	}
	got := in.RateLimitPolicies[0]
	if got.Meta.String() != "web/api" || got.Meta.Generation != 2 {
		t.Errorf("meta %+v", got.Meta)
	}
	want := &model.RateLimitPolicySpec{
		Selector: map[string]string{"app": "a"},
		Rules: []model.RateLimitRule{{
			Limit: model.RateLimitLimit{Requests: 5, Unit: model.RateLimitMinute, Burst: 10},
			Match: &model.RateLimitMatch{RouteName: "r", Path: &model.StringMatch{Prefix: "/api"}, Method: "GET",
				Headers: []model.RateLimitHeaderMatch{{Name: "x-tier", StringMatch: model.StringMatch{Exact: "free"}}}},
			PerClient: &model.RateLimitClient{Header: "x-user"},
			Response:  model.RateLimitResponse{Status: 503, Headers: []model.HeaderValue{{Name: "retry-after", Value: "1"}}},
		}},
	}
	if !reflect.DeepEqual(got.Spec, want) {
		t.Errorf("spec\n%+v\nwant\n%+v", got.Spec, want)
	}
}

// An object the decoder cannot read is reported at its field.
func TestRateLimitPolicyDecodeNamesTheBadField(t *testing.T) {
	kind := rateLimitKind(t)
	obj := map[string]any{
		"apiVersion": "policy.loom.dev/v1alpha1", "kind": "RateLimitPolicy",
		"metadata": map[string]any{"name": "bad", "namespace": "web"},
		"spec":     map[string]any{"rules": []any{map[string]any{"limit": map[string]any{"requests": "many", "unit": "Second"}}}},
	}
	field, err := kind.decode(obj, kind.typed())
	if err == nil {
		t.Fatal("decoded requests: \"many\"")
	}
	if field != "spec.rules[0].limit.requests" {
		t.Errorf("bad field %q, want spec.rules[0].limit.requests", field)
	}
}

// The status writer writes Istio's status format (int64 as strings): the
// object must still decode once it carries one.
func TestRateLimitPolicyDecodesWithTheWrittenStatus(t *testing.T) {
	kind := rateLimitKind(t)
	obj := map[string]any{
		"apiVersion": "policy.loom.dev/v1alpha1", "kind": "RateLimitPolicy",
		"metadata": map[string]any{"name": "api", "namespace": "web", "generation": int64(2)},
		"spec":     map[string]any{"rules": []any{map[string]any{"limit": map[string]any{"requests": int64(1), "unit": "Second"}}}},
		"status": map[string]any{"observedGeneration": "2", "conditions": []any{map[string]any{
			"type": "Accepted", "status": "True", "reason": "Accepted", "observedGeneration": "2", "lastTransitionTime": "2026-01-01T00:00:00Z"}}},
	}
	typed := kind.typed()
	if field, err := kind.decode(obj, typed); err != nil {
		t.Fatalf("decode: %s: %v", field, err)
	}
	var in model.Input
	kind.add(&in, typed)
	if len(in.RateLimitPolicies) != 1 || len(in.RateLimitPolicies[0].Spec.Rules) != 1 {
		t.Fatalf("input %+v", in.RateLimitPolicies)
	}
}
