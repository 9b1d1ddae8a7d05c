package model

import "testing"

func TestWithEndpointsReplacesOneServicesEndpointsInACopy(t *testing.T) {
	a := &Service{Hostname: "a.x.svc.cluster.local", Namespace: "x", Name: "a", Source: SourceKubernetes,
		Endpoints: []*Endpoint{{Address: "10.0.0.1"}}}
	b := &Service{Hostname: "b.x.svc.cluster.local", Namespace: "x", Name: "b", Source: SourceKubernetes}
	snap := Build(Input{Services: []*Service{a, b}})

	next, svc := snap.WithEndpoints("x", "a", []*Endpoint{{Address: "10.0.0.2"}})
	if next == nil || svc == nil {
		t.Fatal("service x/a not found")
	}
	if got := next.ServiceFor("x", a.Hostname); got != svc || got.Endpoints[0].Address != "10.0.0.2" {
		t.Fatalf("the new snapshot resolves a to %+v", got)
	}
	if got := snap.ServiceFor("x", a.Hostname); got.Endpoints[0].Address != "10.0.0.1" {
		t.Fatalf("the old snapshot changed: %+v", got.Endpoints[0])
	}
	if next.ServiceFor("x", b.Hostname) != snap.ServiceFor("x", b.Hostname) {
		t.Fatal("other services are not shared")
	}
	if n, _ := snap.WithEndpoints("x", "missing", nil); n != nil {
		t.Fatal("a service the snapshot lacks must give nil")
	}
}
