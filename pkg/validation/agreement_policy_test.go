package validation_test

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	telemetry "istio.io/api/telemetry/v1alpha1"
	"sigs.k8s.io/yaml"

	policyv1alpha1 "loom.dev/loom/api/policy/v1alpha1"
	"loom.dev/loom/pkg/model"
	"loom.dev/loom/pkg/validation"
)

// TestTelemetryChecksAgree: the control plane reports at every field where the validator
// finds an error or a warning, since both use model.CheckTelemetrySpec.
func TestTelemetryChecksAgree(t *testing.T) {
	for _, spec := range []string{
		`accessLogging: [{providers: [{name: envoy}], filter: {expression: "response.code >="}}]`,
		`tracing: [{providers: [{name: zipkin}, {name: otel}], customTags: {a: {literal: {value: ""}}, f: {formatter: {value: x}}, h: {header: {}}, n: {}}, enableIstioTags: true}]`,
		`targetRefs: [{kind: Service, group: "", name: reviews}, {kind: Gateway, group: gateway.networking.k8s.io, name: gw}]
metrics: [{overrides: [{disabled: true}]}]`,
	} {
		t.Run(spec, func(t *testing.T) {
			js := jsonOf(t, spec)
			msg := &telemetry.Telemetry{}
			if err := protojson.Unmarshal(js, msg); err != nil {
				t.Fatal(err)
			}
			snap := model.Build(model.Input{RootNamespace: "istio-system", Telemetries: []*model.TelemetryPolicy{
				{Meta: model.Meta{Namespace: "default", Name: "tel", Created: time.Unix(1, 0)}, Spec: msg},
			}})
			reported := problemFields(snap.Problems(), model.KindTelemetry)
			k, _ := validation.Lookup("telemetry.istio.io", "v1", "Telemetry")
			r := k.Validate(validation.Object{Namespace: "default", Name: "tel"}, js)
			if len(r.Errors)+len(r.Warnings) == 0 {
				t.Fatal("the validator found nothing")
			}
			for _, f := range append(r.Errors, r.Warnings...) {
				if !slices.Contains(reported, f.Field) {
					t.Errorf("validator: %s; the control plane reports %v", f, reported)
				}
			}
		})
	}
}

// TestRateLimitPolicyChecksAgree: the validator's errors are the control plane's problems
// (model.ValidateRateLimitPolicy).
func TestRateLimitPolicyChecksAgree(t *testing.T) {
	const rule = `{limit: {requests: 10, unit: Second}}`
	for _, tc := range []struct {
		spec   string
		errors []string
	}{
		{`{rules: [{limit: {requests: 10, unit: Second}, response: {headers: [{name: x-why, value: "a\nb"}]}}]}`, []string{"spec.rules[0].response.headers[0].value"}},
		{`{targetRefs: [{kind: Pod, name: a}], rules: [` + rule + `]}`, []string{"spec.targetRefs[0].kind"}},
		{`{rules: [{limit: {requests: 10, unit: Day, burst: 5}}]}`, []string{"spec.rules[0].limit.unit", "spec.rules[0].limit.burst"}},
		{`{rules: [{limit: {requests: 10, unit: Second}, perClient: {sourcePrincipal: true, header: x-user}}]}`, []string{"spec.rules[0].perClient"}},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			js := jsonOf(t, tc.spec)
			k, _ := validation.Lookup("policy.loom.dev", "v1alpha1", "RateLimitPolicy")
			r := k.Validate(validation.Object{Namespace: "default", Name: "rl"}, js)
			var api policyv1alpha1.RateLimitPolicySpec
			if err := yaml.Unmarshal(js, &api); err != nil {
				t.Fatal(err)
			}
			snap := model.Build(model.Input{RootNamespace: "istio-system", RateLimitPolicies: []*model.RateLimitPolicy{
				{Meta: model.Meta{Namespace: "default", Name: "rl", Created: time.Unix(1, 0)}, Spec: validation.RateLimitPolicySpec(&api)},
			}})
			reported := problemFields(snap.Problems(), model.KindRateLimitPolicy)
			var found []string
			for _, f := range r.Errors {
				found = append(found, f.Field)
			}
			slices.Sort(found)
			want := slices.Sorted(slices.Values(tc.errors))
			if !slices.Equal(found, want) || !slices.Equal(reported, want) {
				t.Errorf("validator errors %v, control plane problems %v, want both %v", found, reported, want)
			}
		})
	}

}

func jsonOf(t *testing.T, y string) []byte {
	t.Helper()
	js, err := yaml.YAMLToJSON([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func problemFields(ps []model.Problem, kind string) []string {
	var out []string
	for _, p := range ps {
		if p.Kind == kind {
			out = append(out, p.Field)
		}
	}
	slices.Sort(out)
	return out
}
