package validation

import (
	"reflect"
	"testing"

	policyv1alpha1 "loom.dev/loom/api/policy/v1alpha1"
	"loom.dev/loom/pkg/model"
)

func TestRateLimitPolicy(t *testing.T) {
	runCases(t, "policy.loom.dev", "RateLimitPolicy", []testCase{
		{name: "per-client limit on a path", spec: `
selector: {matchLabels: {app: reviews}}
rules:
- limit: {requests: 100, unit: Minute, burst: 150}
  match:
    path: {prefix: /api}
    method: GET
    headers: [{name: x-tenant, exact: acme}]
  perClient: {header: x-user}
  response:
    status: 429
    headers: [{name: retry-after, value: "60"}]`},
		{name: "targetRefs", spec: `
targetRefs: [{kind: Service, name: reviews}]
rules: [{limit: {requests: 5, unit: Second}, perClient: {sourcePrincipal: true}}]`},

		{name: "no rules", want: "spec.rules", spec: `selector: {matchLabels: {app: a}}`},
		{name: "selector and targetRefs", want: "spec", spec: `
selector: {matchLabels: {app: a}}
targetRefs: [{kind: Service, name: a}]
rules: [{limit: {requests: 1, unit: Second}}]`},
		{name: "burst below requests", want: "spec.rules[0].limit.burst", spec: `
rules: [{limit: {requests: 10, unit: Second, burst: 5}}]`},
		{name: "path with exact and prefix", want: "spec.rules[0].match.path", spec: `
rules: [{limit: {requests: 1, unit: Second}, match: {path: {exact: /a, prefix: /b}}}]`},
		{name: "lower-case method", want: "spec.rules[0].match.method", spec: `
rules: [{limit: {requests: 1, unit: Second}, match: {method: get}}]`},
		{name: "response header value with a newline", want: "spec.rules[1].response.headers[0].value", spec: `
rules:
- limit: {requests: 1, unit: Second}
- limit: {requests: 1, unit: Second}
  response: {headers: [{name: x-a, value: "a\nb"}]}`},
		{name: "unknown field named", want: "spec.rules[0].limit.reqests", spec: `
rules: [{limit: {reqests: 1, unit: Second}}]`},
		{name: "wrong type", want: "spec", spec: `
rules: [{limit: {requests: many, unit: Second}}]`},
		{name: "route name", spec: `
rules: [{limit: {requests: 1, unit: Second}, match: {routeName: default}}]`},
	})
}

// TestRateLimitPolicySpec: every field of the API reaches the model.
func TestRateLimitPolicySpec(t *testing.T) {
	burst := int32(20)
	got := RateLimitPolicySpec(&policyv1alpha1.RateLimitPolicySpec{
		Selector:   &policyv1alpha1.WorkloadSelector{MatchLabels: map[string]string{"app": "a"}},
		TargetRefs: []policyv1alpha1.TargetRef{{Kind: "Service", Name: "s"}},
		Rules: []policyv1alpha1.RateLimitRule{{
			Limit: policyv1alpha1.Limit{Requests: 10, Unit: "Minute", Burst: &burst},
			Match: &policyv1alpha1.RequestMatch{RouteName: "r", Path: &policyv1alpha1.StringMatch{Prefix: "/p"}, Method: "GET",
				Headers: []policyv1alpha1.HeaderMatch{{Name: "x-a", Exact: "b"}}},
			PerClient: &policyv1alpha1.PerClient{Header: "x-user"},
			Response:  &policyv1alpha1.RateLimitResponse{Status: 503, Headers: []policyv1alpha1.HeaderValue{{Name: "x-why", Value: "busy"}}},
		}},
	})
	want := &model.RateLimitPolicySpec{
		Selector:   map[string]string{"app": "a"},
		TargetRefs: []model.RateLimitTargetRef{{Kind: "Service", Name: "s"}},
		Rules: []model.RateLimitRule{{
			Limit: model.RateLimitLimit{Requests: 10, Unit: model.RateLimitMinute, Burst: 20},
			Match: &model.RateLimitMatch{RouteName: "r", Path: &model.StringMatch{Prefix: "/p"}, Method: "GET",
				Headers: []model.RateLimitHeaderMatch{{Name: "x-a", StringMatch: model.StringMatch{Exact: "b"}}}},
			PerClient: &model.RateLimitClient{Header: "x-user"},
			Response:  model.RateLimitResponse{Status: 503, Headers: []model.HeaderValue{{Name: "x-why", Value: "busy"}}},
		}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}
