package model

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func mkRateLimit(ns, name string, minute int, spec RateLimitPolicySpec) *RateLimitPolicy {
	if spec.Rules == nil {
		spec.Rules = []RateLimitRule{{Limit: RateLimitLimit{Requests: 10, Unit: RateLimitSecond}}}
	}
	return &RateLimitPolicy{Meta: Meta{Namespace: ns, Name: name, Created: time.Date(2026, 1, 1, 0, minute, 0, 0, time.UTC)}, Spec: &spec}
}

func appliedNames(rules []AppliedRateLimitRule) []string {
	var out []string
	for _, r := range rules {
		out = append(out, r.Policy.Name+"#"+string(rune('0'+r.Index)))
	}
	return out
}

func TestRateLimitRulesForSelectsAsAuthorizationPolicy(t *testing.T) {
	app := map[string]string{"app": "a"}
	svc := &Service{Hostname: "a.foo.svc.cluster.local", Namespace: "foo", Name: "a", Source: SourceKubernetes, Selector: app}
	snap := Build(Input{
		RootNamespace: "istio-system",
		Services:      []*Service{svc},
		RateLimitPolicies: []*RateLimitPolicy{
			mkRateLimit("istio-system", "mesh", 5, RateLimitPolicySpec{}),
			mkRateLimit("foo", "ns", 2, RateLimitPolicySpec{}),
			mkRateLimit("foo", "workload", 1, RateLimitPolicySpec{Selector: app}),
			mkRateLimit("foo", "other-workload", 0, RateLimitPolicySpec{Selector: map[string]string{"app": "b"}}),
			mkRateLimit("bar", "other-ns", 0, RateLimitPolicySpec{}),
			mkRateLimit("foo", "to-service", 6, RateLimitPolicySpec{TargetRefs: []RateLimitTargetRef{{Kind: "Service", Name: "a"}}}),
			mkRateLimit("foo", "to-other-service", 6, RateLimitPolicySpec{TargetRefs: []RateLimitTargetRef{{Kind: "Service", Name: "b"}}}),
			mkRateLimit("bar", "to-service-elsewhere", 6, RateLimitPolicySpec{TargetRefs: []RateLimitTargetRef{{Kind: "Service", Name: "a"}}}),
			{Meta: Meta{Namespace: "foo", Name: "nil-spec"}},
			nil,
		},
	})
	got := appliedNames(snap.RateLimitRulesFor("foo", app))
	want := []string{"workload#0", "ns#0", "mesh#0", "to-service#0"}
	if !slices.Equal(got, want) {
		t.Errorf("RateLimitRulesFor(foo, app=a) = %v, want %v", got, want)
	}
	if got := appliedNames(snap.RateLimitRulesFor("baz", nil)); !slices.Equal(got, []string{"mesh#0"}) {
		t.Errorf("RateLimitRulesFor(baz) = %v, want only the mesh-wide policy", got)
	}
	if len(snap.Problems()) != 0 {
		t.Errorf("problems: %v", snap.Problems())
	}
}

func TestInvalidRateLimitPoliciesAreReportedAtTheirField(t *testing.T) {
	good := RateLimitRule{Limit: RateLimitLimit{Requests: 5, Unit: RateLimitMinute}}
	bad := func(mut func(*RateLimitRule)) RateLimitRule {
		r := good
		mut(&r)
		return r
	}
	snap := Build(Input{RateLimitPolicies: []*RateLimitPolicy{
		mkRateLimit("foo", "both", 0, RateLimitPolicySpec{Selector: map[string]string{"a": "b"}, TargetRefs: []RateLimitTargetRef{{Kind: "Service", Name: "s"}}}),
		mkRateLimit("foo", "pod-target", 0, RateLimitPolicySpec{TargetRefs: []RateLimitTargetRef{{Kind: "Pod", Name: "p"}}}),
		mkRateLimit("foo", "empty", 0, RateLimitPolicySpec{Rules: []RateLimitRule{}}),
		mkRateLimit("foo", "rules", 1, RateLimitPolicySpec{Rules: []RateLimitRule{
			good,
			bad(func(r *RateLimitRule) { r.Limit.Requests = 0 }),
			bad(func(r *RateLimitRule) { r.Limit.Unit = "Day" }),
			bad(func(r *RateLimitRule) { r.Limit.Burst = 2 }),
			bad(func(r *RateLimitRule) { r.Match = &RateLimitMatch{Path: &StringMatch{Exact: "/a", Prefix: "/b"}} }),
			bad(func(r *RateLimitRule) {
				r.Match = &RateLimitMatch{Headers: []RateLimitHeaderMatch{{Name: "bad name", StringMatch: StringMatch{Exact: "x"}}}}
			}),
			bad(func(r *RateLimitRule) { r.PerClient = &RateLimitClient{} }),
			bad(func(r *RateLimitRule) { r.Response.Status = 200 }),
			bad(func(r *RateLimitRule) { r.Response.Headers = []HeaderValue{{Name: "x", Value: "a\nb"}} }),
			bad(func(r *RateLimitRule) { r.Match = &RateLimitMatch{Method: "get"} }),
		}}),
	}})
	var fields []string
	for _, p := range snap.Problems() {
		if p.Kind != KindRateLimitPolicy {
			t.Errorf("problem of kind %q", p.Kind)
		}
		fields = append(fields, p.Meta.Name+":"+p.Field)
	}
	slices.Sort(fields)
	want := []string{
		"both:spec", "empty:spec.rules", "pod-target:spec.targetRefs[0].kind",
		"rules:spec.rules[1].limit.requests", "rules:spec.rules[2].limit.unit", "rules:spec.rules[3].limit.burst",
		"rules:spec.rules[4].match.path", "rules:spec.rules[5].match.headers[0].name", "rules:spec.rules[6].perClient",
		"rules:spec.rules[7].response.status", "rules:spec.rules[8].response.headers[0].value", "rules:spec.rules[9].match.method",
	}
	slices.Sort(want)
	if !slices.Equal(fields, want) {
		t.Errorf("problems at\n%s\nwant\n%s", strings.Join(fields, "\n"), strings.Join(want, "\n"))
	}
	if got := appliedNames(snap.RateLimitRulesFor("foo", nil)); !slices.Equal(got, []string{"rules#0"}) {
		t.Errorf("applied rules = %v, want only the valid rule of the policy without policy-wide errors", got)
	}
}

func TestRateLimitDefaults(t *testing.T) {
	if got := (RateLimitLimit{Requests: 3}).BucketSize(); got != 3 {
		t.Errorf("bucket size without burst = %d, want requests", got)
	}
	if got := (RateLimitLimit{Requests: 3, Burst: 9}).BucketSize(); got != 9 {
		t.Errorf("bucket size = %d, want burst", got)
	}
	if got := (RateLimitResponse{}).StatusOrDefault(); got != 429 {
		t.Errorf("default status = %d, want 429", got)
	}
}

// The status writer counts the proxies a policy is programmed on through
// ConfigsFor: sidecars it selects, never proxyless gRPC.
func TestRateLimitPoliciesAreFollowedOnTheProxiesTheyApplyTo(t *testing.T) {
	app := map[string]string{"app": "a"}
	p := mkRateLimit("foo", "limit", 0, RateLimitPolicySpec{Selector: app})
	p.Generation = 4
	snap := Build(Input{RateLimitPolicies: []*RateLimitPolicy{p, mkRateLimit("foo", "bad", 0, RateLimitPolicySpec{Rules: []RateLimitRule{}})}})
	ref := ConfigRef{Kind: KindRateLimitPolicy, Namespace: "foo", Name: "limit"}
	if _, ok := snap.ConfigsFor(Proxy{Kind: KindSidecar, Namespace: "foo", Labels: app})[ref]; !ok {
		t.Error("the sidecar the policy selects does not follow it")
	}
	if _, ok := snap.ConfigsFor(Proxy{Kind: KindSidecar, Namespace: "foo", Labels: map[string]string{"app": "b"}})[ref]; ok {
		t.Error("a sidecar the policy does not select follows it")
	}
	if _, ok := snap.ConfigsFor(Proxy{Kind: KindGRPC, Namespace: "foo", Labels: app})[ref]; ok {
		t.Error("a proxyless gRPC server counts as running a rate limit")
	}
	gens := snap.ConfigGenerations()
	if gens[ref] != 4 {
		t.Errorf("generation of %v = %d, want 4", ref, gens[ref])
	}
	if _, ok := gens[ConfigRef{Kind: KindRateLimitPolicy, Namespace: "foo", Name: "bad"}]; ok {
		t.Error("a policy left out as invalid counts as acted on")
	}
}
