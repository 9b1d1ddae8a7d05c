package model

import (
	"slices"
	"strings"
	"testing"
	"time"

	security "istio.io/api/security/v1beta1"
	typev1beta1 "istio.io/api/type/v1beta1"
)

func mkRequestAuthn(ns, name string, minute int, selector map[string]string, rules []*security.JWTRule, refs ...*typev1beta1.PolicyTargetReference) *RequestAuthentication {
	spec := &security.RequestAuthentication{TargetRefs: refs, JwtRules: rules}
	if selector != nil {
		spec.Selector = &typev1beta1.WorkloadSelector{MatchLabels: selector}
	}
	return &RequestAuthentication{Meta: Meta{Namespace: ns, Name: name, Created: time.Date(2026, 1, 1, 0, minute, 0, 0, time.UTC)}, Spec: spec}
}

func inlineRule(issuer string) []*security.JWTRule {
	return []*security.JWTRule{{Issuer: issuer, Jwks: `{"keys":[]}`}}
}

// Istio's selection, the same as for AuthorizationPolicy: root namespace
// without selector is mesh-wide, with a selector it picks matching
// workloads of every namespace, a namespace's policy picks its own
// workloads, targetRefs replace the selector.
func TestRequestAuthenticationsFor(t *testing.T) {
	app := map[string]string{"app": "a"}
	svc := &Service{Hostname: "a.foo.svc.cluster.local", Namespace: "foo", Name: "a", Source: SourceKubernetes, Selector: app}
	snap := Build(Input{
		RootNamespace: "istio-system",
		Services:      []*Service{svc},
		RequestAuthentications: []*RequestAuthentication{
			mkRequestAuthn("istio-system", "mesh", 5, nil, nil),
			mkRequestAuthn("istio-system", "root-selector", 4, app, nil),
			mkRequestAuthn("istio-system", "root-other", 3, map[string]string{"app": "b"}, nil),
			mkRequestAuthn("foo", "ns", 2, nil, nil),
			mkRequestAuthn("foo", "workload", 1, app, nil),
			mkRequestAuthn("foo", "other-workload", 0, map[string]string{"app": "b"}, nil),
			mkRequestAuthn("bar", "other-ns", 0, nil, nil),
			mkRequestAuthn("foo", "to-service", 6, app, nil, &typev1beta1.PolicyTargetReference{Kind: "Service", Name: "a"}),
			mkRequestAuthn("foo", "to-gateway", 7, nil, nil, &typev1beta1.PolicyTargetReference{Kind: "Gateway", Group: "gateway.networking.k8s.io", Name: "gw"}),
			{Meta: Meta{Namespace: "foo", Name: "nil-spec"}},
			nil,
		},
	})
	var got []string
	for _, a := range snap.RequestAuthenticationsFor("foo", app) {
		name := a.Policy.Name
		if a.TargetRefField != "" {
			name += "@" + a.TargetRefField
		}
		got = append(got, name)
	}
	want := []string{"workload", "ns", "root-selector", "mesh", "to-service@spec.targetRefs[0]"}
	if !slices.Equal(got, want) {
		t.Errorf("applied %v, want %v (oldest first)", got, want)
	}
	if got := snap.RequestAuthenticationsFor("bar", app); len(got) != 3 {
		t.Errorf("bar gets %d policies, want mesh, root-selector and other-ns", len(got))
	}
	if got := snap.RequestAuthenticationsFor("foo", map[string]string{"app": "c"}); len(got) != 2 {
		t.Errorf("an unselected workload of foo gets %d policies, want ns and mesh", len(got))
	}
	var reported []string
	for _, p := range snap.Problems() {
		if p.Kind == KindRequestAuthentication {
			reported = append(reported, p.Meta.Name+"@"+p.Field)
		}
	}
	if want := []string{"to-gateway@spec.targetRefs[0]", "to-service@spec.targetRefs[0]"}; !slices.Equal(reported, want) {
		t.Errorf("reported %v, want %v", reported, want)
	}
}

// Every applying policy's rules are merged and sorted by issuer; a
// duplicate issuer stays a rule of its own, as in Istio.
func TestJWTRulesForMergesByIssuer(t *testing.T) {
	app := map[string]string{"app": "a"}
	snap := Build(Input{
		RootNamespace: "istio-system",
		RequestAuthentications: []*RequestAuthentication{
			mkRequestAuthn("istio-system", "mesh", 0, nil, inlineRule("https://z.example")),
			mkRequestAuthn("foo", "ns", 1, nil, append(inlineRule("https://b.example"), inlineRule("https://a.example")...)),
			mkRequestAuthn("foo", "dup", 2, app, inlineRule("https://z.example")),
		},
	})
	var got []string
	for _, r := range snap.JWTRulesFor("foo", app) {
		got = append(got, r.Rule.GetIssuer()+" "+r.Policy.Name+"/"+r.Field)
	}
	want := []string{
		"https://a.example ns/spec.jwtRules[1]",
		"https://b.example ns/spec.jwtRules[0]",
		"https://z.example mesh/spec.jwtRules[0]",
		"https://z.example dup/spec.jwtRules[0]",
	}
	if !slices.Equal(got, want) {
		t.Errorf("rules\n%v\nwant\n%v", got, want)
	}
}

// Keys: inline jwks as written, fetched keys for a jwksUri (or the
// issuer's discovery document), the fail-closed set when none were ever
// fetched; every fetch failure is reported on the rule that needs it.
func TestJWTRulesKeys(t *testing.T) {
	rules := []*security.JWTRule{
		{Issuer: "inline", Jwks: `{"keys":[{"kty":"EC"}]}`},
		{Issuer: "good", JwksUri: "https://good.example/jwks"},
		{Issuer: "stale", JwksUri: "https://stale.example/jwks"},
		{Issuer: "down", JwksUri: "https://down.example/jwks"},
		{Issuer: "never", JwksUri: "https://never.example/jwks"},
		{Issuer: "https://openid.example/"},
	}
	snap := Build(Input{
		RequestAuthentications: []*RequestAuthentication{mkRequestAuthn("foo", "ra", 0, nil, rules)},
		FetchedJWKS: map[JWKSSource]FetchedJWKS{
			{Issuer: "good", URI: "https://good.example/jwks"}:   {Keys: "good-keys"},
			{Issuer: "stale", URI: "https://stale.example/jwks"}: {Keys: "old-keys", Error: "status 503"},
			{Issuer: "down", URI: "https://down.example/jwks"}:   {Error: "connection refused"},
			{Issuer: "https://openid.example/"}:                  {Keys: "discovered-keys"},
		},
	})
	keys := map[string]string{}
	for _, r := range snap.JWTRulesFor("foo", nil) {
		if r.FailClosed != (r.JWKS == FailClosedJWKS) {
			t.Errorf("%s: FailClosed %v with keys %q", r.Rule.GetIssuer(), r.FailClosed, r.JWKS)
		}
		keys[r.Rule.GetIssuer()] = r.JWKS
	}
	want := map[string]string{
		"inline": rules[0].Jwks, "good": "good-keys", "stale": "old-keys",
		"down": FailClosedJWKS, "never": FailClosedJWKS, "https://openid.example/": "discovered-keys",
	}
	for iss, k := range want {
		if keys[iss] != k {
			t.Errorf("issuer %s verifies with %q, want %q", iss, keys[iss], k)
		}
	}
	var reported []string
	for _, p := range snap.Problems() {
		reported = append(reported, p.Field+": "+p.Message)
	}
	for _, w := range []string{
		"spec.jwtRules[2].jwksUri: refreshing the keys from https://stale.example/jwks failed (status 503): the last keys fetched stay in use",
		"spec.jwtRules[3].jwksUri: keys could not be fetched from https://down.example/jwks (connection refused): failing closed",
		"spec.jwtRules[4].jwksUri: no keys were fetched from https://never.example/jwks yet: failing closed",
	} {
		if !slices.ContainsFunc(reported, func(s string) bool { return strings.HasPrefix(s, w) }) {
			t.Errorf("missing problem %q in %v", w, reported)
		}
	}
	if len(reported) != 3 {
		t.Errorf("%d problems, want 3: %v", len(reported), reported)
	}
	if got := (JWKSSource{Issuer: "https://openid.example/"}).String(); got != "https://openid.example/.well-known/openid-configuration" {
		t.Errorf("discovery source %q", got)
	}
}
