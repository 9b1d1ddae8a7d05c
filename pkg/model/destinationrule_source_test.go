package model

import (
	"slices"
	"strings"
	"testing"

	networking "istio.io/api/networking/v1alpha3"
)

// DestinationRuleSources must name exactly the rules DestinationRuleFor
// merges, in merge order, whichever namespace they come from.
func TestDestinationRuleSourcesMatchDestinationRuleFor(t *testing.T) {
	rule := func(name, ns, host string, minute int, subsets ...string) *DestinationRule {
		spec := &networking.DestinationRule{Host: host}
		for _, s := range subsets {
			spec.Subsets = append(spec.Subsets, &networking.Subset{Name: s})
		}
		return &DestinationRule{Meta: Meta{Name: name, Namespace: ns, Created: at(minute)}, Spec: spec}
	}
	reviews := &Service{Hostname: "reviews.web.svc.cluster.local", Namespace: "web", Name: "reviews"}
	snap := Build(Input{
		RootNamespace: "mesh",
		Services:      []*Service{reviews},
		DestinationRules: []*DestinationRule{
			rule("newer", "web", "reviews", 2, "v2", "v1"),
			rule("older", "web", "reviews", 1, "v1"),
			rule("wild", "web", "*.web.svc.cluster.local", 0, "all"),
			rule("client", "app", "reviews.web.svc.cluster.local", 0, "mine"),
			rule("root", "mesh", "*", 0, "default"),
		},
	})
	for _, tc := range []struct {
		ns   string
		want []string
	}{
		{"web", []string{"older", "newer"}},
		{"app", []string{"client"}},
		{"other", []string{"older", "newer"}},
	} {
		var got []string
		for _, dr := range snap.DestinationRuleSources(Proxy{Namespace: tc.ns}, reviews) {
			got = append(got, dr.Name)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("proxy in %s: sources %v, want %v", tc.ns, got, tc.want)
		}
		merged := snap.DestinationRuleFor(Proxy{Namespace: tc.ns}, reviews)
		var fromSources []string
		seen := map[string]bool{}
		for _, dr := range snap.DestinationRuleSources(Proxy{Namespace: tc.ns}, reviews) {
			for _, s := range dr.Spec.GetSubsets() {
				if !seen[s.GetName()] {
					seen[s.GetName()] = true
					fromSources = append(fromSources, s.GetName())
				}
			}
		}
		if subsetNames(merged) != strings.Join(fromSources, ",") {
			t.Errorf("proxy in %s: merged subsets %s, sources give %v", tc.ns, subsetNames(merged), fromSources)
		}
	}
}
