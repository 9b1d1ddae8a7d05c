package model

import "testing"

func TestHostMatchesAndSpecificity(t *testing.T) {
	for _, tc := range []struct {
		pattern, host string
		want          bool
	}{
		{"reviews.web.svc.cluster.local", "reviews.web.svc.cluster.local", true},
		{"*", "anything.example.com", true},
		{"*.example.com", "api.example.com", true},
		{"*.example.com", "a.b.example.com", true},
		{"*.example.com", "example.com", false},
		{"api.example.com", "www.example.com", false},
	} {
		if got := HostMatches(tc.pattern, tc.host); got != tc.want {
			t.Errorf("HostMatches(%q, %q) = %v", tc.pattern, tc.host, got)
		}
	}
	if !moreSpecific("api.example.com", "*.example.com") || !moreSpecific("*.api.example.com", "*.example.com") || moreSpecific("*", "*.com") {
		t.Error("exact hosts beat wildcards and longer wildcards beat shorter ones")
	}
	if got := ResolveGatewayName("gw", "web"); got != "web/gw" {
		t.Errorf("ResolveGatewayName(gw) = %q", got)
	}
	if got := ResolveGatewayName("mesh", "web"); got != "mesh" {
		t.Errorf("ResolveGatewayName(mesh) = %q", got)
	}
}
