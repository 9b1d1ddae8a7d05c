package model

import (
	"slices"
	"strings"
	"testing"
	"time"

	security "istio.io/api/security/v1beta1"
	typev1beta1 "istio.io/api/type/v1beta1"
)

func mkAuthz(ns, name string, minute int, selector map[string]string, refs ...*typev1beta1.PolicyTargetReference) *AuthorizationPolicy {
	spec := &security.AuthorizationPolicy{TargetRefs: refs}
	if selector != nil {
		spec.Selector = &typev1beta1.WorkloadSelector{MatchLabels: selector}
	}
	return &AuthorizationPolicy{Meta: Meta{Namespace: ns, Name: name, Created: time.Date(2026, 1, 1, 0, minute, 0, 0, time.UTC)}, Spec: spec}
}

// Istio's selection: root namespace without selector is mesh-wide, with a
// selector it picks matching workloads of every namespace; a namespace's
// policy picks its own workloads only; targetRefs replace the selector.
func TestAuthorizationPoliciesFor(t *testing.T) {
	app := map[string]string{"app": "a"}
	svc := &Service{Hostname: "a.foo.svc.cluster.local", Namespace: "foo", Name: "a", Source: SourceKubernetes, Selector: app}
	snap := Build(Input{
		RootNamespace: "istio-system",
		Services:      []*Service{svc},
		AuthorizationPolicies: []*AuthorizationPolicy{
			mkAuthz("istio-system", "mesh", 5, nil),
			mkAuthz("istio-system", "root-selector", 4, app),
			mkAuthz("istio-system", "root-other", 3, map[string]string{"app": "b"}),
			mkAuthz("foo", "ns", 2, nil),
			mkAuthz("foo", "workload", 1, app),
			mkAuthz("foo", "other-workload", 0, map[string]string{"app": "b"}),
			mkAuthz("bar", "other-ns", 0, nil),
			mkAuthz("foo", "to-service", 6, app, &typev1beta1.PolicyTargetReference{Kind: "Service", Name: "a"}),
			mkAuthz("foo", "to-gateway", 7, nil, &typev1beta1.PolicyTargetReference{Kind: "Gateway", Group: "gateway.networking.k8s.io", Name: "gw"}),
			{Meta: Meta{Namespace: "foo", Name: "nil-spec"}},
		},
	})
	var got []string
	for _, a := range snap.AuthorizationPoliciesFor("foo", app) {
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
	if got := snap.AuthorizationPoliciesFor("bar", app); len(got) != 3 {
		t.Errorf("bar gets %d policies, want mesh, root-selector and other-ns", len(got))
	}
	var reported []string
	for _, p := range snap.Problems() {
		if p.Kind == KindAuthorizationPolicy {
			reported = append(reported, p.Meta.Name+" "+p.Field)
		}
	}
	if !slices.Equal(reported, []string{"to-gateway spec.targetRefs[0]", "to-service spec.targetRefs[0]"}) {
		t.Errorf("reported %v", reported)
	}
	for _, p := range snap.Problems() {
		if p.Meta.Name == "to-gateway" && !strings.Contains(p.Message, "not enforced") {
			t.Errorf("gateway targetRef: %s", p.Message)
		}
	}
}
