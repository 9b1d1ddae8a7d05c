package webhook

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"loom.dev/loom/pkg/loomcrds"
)

// TestValidatorTelemetry: a Telemetry is checked as the control plane checks it, in both
// versions the CRD serves: what Istio rejects too is denied with the object and the field
// named, what Loom does not enforce is admitted with a warning naming the field.
func TestValidatorTelemetry(t *testing.T) {
	v := NewValidator(nil)
	for _, version := range []string{"v1", "v1alpha1"} {
		for _, tc := range []struct {
			name, spec string
			denied     []string // fields named in the denial
			warned     []string // fields named in warnings
		}{
			{"istio docs: access logs of failed requests", "accessLogging:\n- providers: [{name: envoy}]\n  filter: {expression: response.code >= 400}", nil, nil},
			{"istio docs: sampling", "tracing:\n- randomSamplingPercentage: 10.00", nil, nil},
			{"filter that is not CEL", "accessLogging:\n- filter: {expression: \"response.code >=\"}", []string{"spec.accessLogging[0].filter.expression"}, nil},
			{"tags Istio refuses", "tracing:\n- customTags:\n    team: {literal: {value: \"\"}}\n    user: {header: {}}",
				[]string{"spec.tracing[0].customTags.team.literal.value", "spec.tracing[0].customTags.user.header.name"}, nil},
			{"metrics are not enforced", "metrics:\n- overrides: [{disabled: true}]", nil, []string{"spec.metrics[0]"}},
		} {
			obj := "metadata: {name: reviews}\nspec:\n  " + strings.ReplaceAll(tc.spec, "\n", "\n  ")
			resp := v.Handle(context.Background(), validationRequest(t, admissionv1.Create, "telemetry.istio.io", version, "Telemetry", obj))
			msg := message(resp)
			switch {
			case len(tc.denied) == 0 && !resp.Allowed:
				t.Errorf("%s %s: denied: %s", version, tc.name, msg)
			case len(tc.denied) > 0 && (resp.Allowed || !strings.Contains(msg, "Telemetry shop/reviews is invalid")):
				t.Errorf("%s %s: want denied naming the object, got allowed=%v %q", version, tc.name, resp.Allowed, msg)
			}
			for _, f := range tc.denied {
				if !strings.Contains(msg, f+":") {
					t.Errorf("%s %s: want %s named in %q", version, tc.name, f, msg)
				}
			}
			if len(tc.denied) == 0 && len(tc.warned) == 0 && len(resp.Warnings) > 0 {
				t.Errorf("%s %s: want no warning, got %q", version, tc.name, resp.Warnings)
			}
			for _, f := range tc.warned {
				if !slices.ContainsFunc(resp.Warnings, func(w string) bool { return strings.HasPrefix(w, "Telemetry shop/reviews: "+f+": ") }) {
					t.Errorf("%s %s: want a warning about %s, got %q", version, tc.name, f, resp.Warnings)
				}
			}
		}
	}
}

// TestValidatorRateLimitPolicy: Loom's own policy is checked with the control plane's check.
func TestValidatorRateLimitPolicy(t *testing.T) {
	v := NewValidator(nil)
	handle := func(spec string) (bool, string, []string) {
		obj := "apiVersion: policy.loom.dev/v1alpha1\nkind: RateLimitPolicy\nmetadata: {name: reviews}\nspec:\n  " + strings.ReplaceAll(spec, "\n", "\n  ")
		resp := v.Handle(context.Background(), validationRequest(t, admissionv1.Create, "policy.loom.dev", "v1alpha1", "RateLimitPolicy", obj))
		return resp.Allowed, message(resp), resp.Warnings
	}
	if ok, msg, warnings := handle("selector: {matchLabels: {app: reviews}}\nrules:\n- limit: {requests: 100, unit: Minute}\n  perClient: {header: x-user}"); !ok || len(warnings) > 0 {
		t.Errorf("valid policy: allowed=%v %q warnings %q", ok, msg, warnings)
	}
	ok, msg, _ := handle("rules:\n- limit: {requests: 10, unit: Day, burst: 5}\n  response: {headers: [{name: x-a, value: \"a\\nb\"}]}")
	for _, f := range []string{"spec.rules[0].limit.unit:", "spec.rules[0].limit.burst:", "spec.rules[0].response.headers[0].value:"} {
		if ok || !strings.Contains(msg, "RateLimitPolicy shop/reviews is invalid") || !strings.Contains(msg, f) {
			t.Errorf("invalid policy: want denied naming the object and %s, got allowed=%v %q", f, ok, msg)
		}
	}
	if ok, msg, _ := handle("rules:\n- limit: {requests: 1, unit: Second, bursts: 2}"); ok || !strings.Contains(msg, "spec.rules[0].limit.bursts:") {
		t.Errorf("unknown field: want denied naming it, got allowed=%v %q", ok, msg)
	}
	resp := v.Handle(context.Background(), validationRequest(t, admissionv1.Create, "policy.loom.dev", "v1beta1", "RateLimitPolicy", "spec: {rules: []}"))
	if !resp.Allowed {
		t.Errorf("a version Loom's CRD does not serve is not validated: %v", resp.Result)
	}
}

// TestValidatorUnreachableRules: Istio's overlapping-match analysis comes back as warnings
// naming the rule; the object is admitted.
func TestValidatorUnreachableRules(t *testing.T) {
	v := NewValidator(nil)
	const vs = `
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - name: products
    match: [{uri: {prefix: /api/v1/product}, method: {exact: GET}}]
    route: [{destination: {host: reviews, subset: v1}}]
  - name: products-v2
    match: [{uri: {prefix: /api/v1/products}, method: {exact: GET}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - route: [{destination: {host: reviews, subset: v1}}]
  - name: never
    match: [{uri: {prefix: /never}}]
    route: [{destination: {host: reviews, subset: v2}}]`
	resp := v.Handle(context.Background(), validationRequest(t, admissionv1.Create, "networking.istio.io", "v1", "VirtualService", vs))
	want := []string{
		`VirtualService shop/reviews: spec.http[1].match[0]: rule #1 "products-v2" match #0 (URI prefix /api/v1/products) is not used: match #0 (URI prefix /api/v1/product) of rule #0 "products" before it takes all its requests`,
		`VirtualService shop/reviews: spec.http[3]: rule #3 "never" is not used: rule #2 before it has no matches and takes everything`,
	}
	if got := slices.Sorted(slices.Values(resp.Warnings)); !resp.Allowed || !slices.Equal(got, want) {
		t.Errorf("want allowed with warnings\n%q\ngot allowed=%v %q\n%q", want, resp.Allowed, message(resp), resp.Warnings)
	}
}

// loomSchemas are the spec schemas of Loom's own CRDs, by group/kind.
func loomSchemas(t testing.TB) map[string]*apiextensionsv1.JSONSchemaProps {
	t.Helper()
	crds, err := loomcrds.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*apiextensionsv1.JSONSchemaProps{}
	for _, crd := range crds {
		for _, v := range crd.Spec.Versions {
			spec := v.Schema.OpenAPIV3Schema.Properties["spec"]
			out[crd.Spec.Group+"/"+crd.Spec.Names.Kind] = &spec
		}
	}
	return out
}

// randomFromSchema builds a value of the schema's type, with values chosen to hit the
// checks' edges, as randomMessage does for Istio's messages.
func randomFromSchema(rng *rand.Rand, s *apiextensionsv1.JSONSchemaProps, depth int) any {
	switch s.Type {
	case "object":
		out := map[string]any{}
		if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
			for range rng.IntN(3) {
				out[randomStrings[rng.IntN(len(randomStrings))]] = randomFromSchema(rng, s.AdditionalProperties.Schema, depth+1)
			}
		}
		if depth > 5 {
			return out
		}
		for name, p := range s.Properties {
			if rng.IntN(3) != 0 {
				out[name] = randomFromSchema(rng, &p, depth+1)
			}
		}
		return out
	case "array":
		l := []any{}
		for range rng.IntN(4) {
			l = append(l, randomFromSchema(rng, s.Items.Schema, depth+1))
		}
		return l
	case "string":
		if len(s.Enum) > 0 && rng.IntN(2) == 0 {
			return strings.Trim(string(s.Enum[rng.IntN(len(s.Enum))].Raw), `"`)
		}
		return randomStrings[rng.IntN(len(randomStrings))]
	case "boolean":
		return rng.IntN(2) == 0
	case "integer":
		return []int64{-1, 0, 1, 100, 429, 599, 2147483647, -2147483648}[rng.IntN(8)]
	}
	return nil
}
