package model

import (
	"testing"

	networking "istio.io/api/networking/v1alpha3"
)

func TestServiceEntryHostsMustBeDNSNames(t *testing.T) {
	for h, want := range map[string]bool{
		"api.example.com": true, "*.example.com": true, "*": true, "mongo": true, "under_score.io": true,
		"a..b": false, "bad\x00host": false, "sp ace.com": false, "*.": false, "a.*.com": false, "": false,
	} {
		if got := validHostname(h); got != want {
			t.Errorf("validHostname(%q) = %v, want %v", h, got, want)
		}
	}
	snap := Build(Input{ServiceEntries: []*ServiceEntry{{Meta: Meta{Name: "se", Namespace: "web"}, Spec: mustServiceEntry("ok.example.com", "bad\nhost")}}})
	if len(snap.Problems()) != 1 || snap.Problems()[0].Field != "spec.hosts[1]" || len(snap.Services()) != 0 {
		t.Errorf("an entry with an invalid host must be rejected and reported: %v", snap.Problems())
	}
}

func mustServiceEntry(hosts ...string) *networking.ServiceEntry {
	return &networking.ServiceEntry{Hosts: hosts, Resolution: networking.ServiceEntry_DNS, Ports: []*networking.ServicePort{{Number: 80, Name: "http"}}}
}
