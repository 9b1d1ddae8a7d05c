package model

import (
	"slices"
	"testing"

	networking "istio.io/api/networking/v1alpha3"
	security "istio.io/api/security/v1beta1"
	typev1beta1 "istio.io/api/type/v1beta1"
)

func TestConfigsForFollowsScope(t *testing.T) {
	m := func(ns, name string, gen int64) Meta {
		return Meta{Namespace: ns, Name: name, Generation: gen, Created: at(0)}
	}
	in := Input{
		RootNamespace: "mesh",
		VirtualServices: []*VirtualService{
			{Meta: m("web", "everywhere", 3), Spec: &networking.VirtualService{Hosts: []string{"a"},
				Http: []*networking.HTTPRoute{{Delegate: &networking.Delegate{Name: "leaf"}}}}},
			{Meta: m("web", "leaf", 1), Spec: &networking.VirtualService{}},
			{Meta: m("web", "private", 1), Spec: &networking.VirtualService{Hosts: []string{"b"}, ExportTo: []string{"."}}},
			{Meta: m("edge", "ingress", 1), Spec: &networking.VirtualService{Hosts: []string{"shop.example.com"}, Gateways: []string{"edge/public"}}},
		},
		DestinationRules: []*DestinationRule{
			{Meta: m("web", "all", 1), Spec: &networking.DestinationRule{Host: "a"}},
			{Meta: m("web", "for-app-x", 1), Spec: &networking.DestinationRule{Host: "a",
				WorkloadSelector: &typev1beta1.WorkloadSelector{MatchLabels: map[string]string{"app": "x"}}}},
		},
		Gateways: []*Gateway{{Meta: m("edge", "public", 1), Spec: &networking.Gateway{Selector: map[string]string{"istio": "ingress"},
			Servers: []*networking.Server{{Port: &networking.Port{Number: 80, Name: "http", Protocol: "HTTP"}, Hosts: []string{"*"}}}}}},
		Sidecars: []*Sidecar{{Meta: m("mesh", "default", 1), Spec: &networking.Sidecar{}}},
		AuthorizationPolicies: []*AuthorizationPolicy{
			{Meta: m("web", "x-only", 1), Spec: &security.AuthorizationPolicy{Selector: &typev1beta1.WorkloadSelector{MatchLabels: map[string]string{"app": "x"}}}},
		},
	}
	snap := Build(in)
	if problems := snap.Problems(); len(problems) > 0 {
		t.Fatalf("the input must be valid: %v", problems)
	}
	names := func(refs map[ConfigRef]struct{}) []string {
		var out []string
		for r := range refs {
			out = append(out, r.String())
		}
		slices.Sort(out)
		return out
	}
	for _, tc := range []struct {
		name  string
		proxy Proxy
		want  []string
	}{
		{"sidecar of app x in web", Proxy{Kind: KindSidecar, Namespace: "web", Labels: map[string]string{"app": "x"}}, []string{
			"AuthorizationPolicy web/x-only", "DestinationRule web/all", "DestinationRule web/for-app-x", "Sidecar mesh/default",
			"VirtualService web/everywhere", "VirtualService web/leaf", "VirtualService web/private"}},
		{"gRPC client of app y in db", Proxy{Kind: KindGRPC, Namespace: "db", Labels: map[string]string{"app": "y"}}, []string{
			"DestinationRule web/all", "Sidecar mesh/default", "VirtualService web/everywhere", "VirtualService web/leaf"}},
		{"ingress gateway", Proxy{Kind: KindGateway, Namespace: "edge", Labels: map[string]string{"istio": "ingress"}}, []string{
			"DestinationRule web/all", "Gateway edge/public", "VirtualService edge/ingress"}},
		{"gateway nothing selects", Proxy{Kind: KindGateway, Namespace: "edge", Labels: map[string]string{"istio": "other"}}, []string{
			"DestinationRule web/all"}},
	} {
		if got := names(snap.ConfigsFor(tc.proxy)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: ConfigsFor = %q, want %q", tc.name, got, tc.want)
		}
	}

	gens := snap.ConfigGenerations()
	if got := gens[ConfigRef{Kind: "VirtualService", Namespace: "web", Name: "everywhere"}]; got != 3 {
		t.Errorf("generation of web/everywhere = %d, want 3", got)
	}
	if want := 9; len(gens) != want {
		t.Errorf("ConfigGenerations has %d objects, want %d: %v", len(gens), want, gens)
	}
}

func TestConfigGenerationsLeaveOutInvalidObjects(t *testing.T) {
	snap := Build(Input{DestinationRules: []*DestinationRule{{Meta: Meta{Namespace: "web", Name: "no-host", Generation: 2}, Spec: &networking.DestinationRule{}}}})
	if gens := snap.ConfigGenerations(); len(gens) != 0 {
		t.Errorf("an invalid DestinationRule must not count as acted on: %v", gens)
	}
}
