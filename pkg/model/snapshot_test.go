package model

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	networking "istio.io/api/networking/v1alpha3"
)

func svc(name, ns string, exportTo ...string) *Service {
	e, err := ParseExportTo(exportTo, ns)
	if err != nil {
		panic(err)
	}
	return &Service{Hostname: ServiceHostname(name, ns, DefaultDomainSuffix), Namespace: ns, Name: name, Source: SourceKubernetes,
		Ports: []Port{{Name: "http", Number: 80, Protocol: ProtocolHTTP}}, ExportTo: e, Selector: map[string]string{"app": name}}
}

func at(minute int) time.Time { return time.Date(2026, 1, 1, 0, minute, 0, 0, time.UTC) }

func hosts(services []*Service) []string {
	var out []string
	for _, s := range services {
		out = append(out, s.Hostname)
	}
	return out
}

func TestServicesForAppliesExportToAndSidecar(t *testing.T) {
	snap := Build(Input{
		RootNamespace: "istio-system",
		Services:      []*Service{svc("a", "web"), svc("b", "web", "."), svc("c", "db", "web"), svc("d", "db", "~")},
		Sidecars: []*Sidecar{
			{Meta: Meta{Name: "default", Namespace: "istio-system"}, Spec: &networking.Sidecar{Egress: []*networking.IstioEgressListener{{Hosts: []string{"./*", "istio-system/*"}}}}},
			{Meta: Meta{Name: "wide", Namespace: "web"}, Spec: &networking.Sidecar{
				WorkloadSelector: &networking.WorkloadSelector{Labels: map[string]string{"app": "wide"}},
				Egress:           []*networking.IstioEgressListener{{Hosts: []string{"*/*"}}},
			}},
		},
	})
	for _, tc := range []struct {
		proxy Proxy
		want  []string
	}{
		{Proxy{Namespace: "web"}, []string{"a.web.svc.cluster.local", "b.web.svc.cluster.local"}},
		{Proxy{Namespace: "web", Labels: map[string]string{"app": "wide"}}, []string{"a.web.svc.cluster.local", "b.web.svc.cluster.local", "c.db.svc.cluster.local"}},
		{Proxy{Namespace: "db"}, nil}, // c is exported to web only, d to nobody
		{Proxy{Namespace: "other"}, nil},
	} {
		if diff := cmp.Diff(tc.want, hosts(snap.ServicesFor(tc.proxy))); diff != "" {
			t.Errorf("ServicesFor(%+v) (-want +got):\n%s", tc.proxy, diff)
		}
	}
}

func vs(name, ns string, created int, hostList []string, exportTo ...string) *VirtualService {
	return &VirtualService{Meta: Meta{Name: name, Namespace: ns, Created: at(created)}, Spec: &networking.VirtualService{Hosts: hostList, ExportTo: exportTo}}
}

func TestVirtualServiceForFollowsIstioPrecedence(t *testing.T) {
	gatewayOnly := vs("gw-only", "web", 0, []string{"ratings"})
	gatewayOnly.Spec.Gateways = []string{"gw"}
	snap := Build(Input{VirtualServices: []*VirtualService{
		vs("old", "web", 1, []string{"reviews"}),
		vs("new", "web", 2, []string{"reviews.web.svc.cluster.local"}),
		vs("wild", "web", 0, []string{"*.web.svc.cluster.local"}),
		vs("private", "app", 3, []string{"reviews.web.svc.cluster.local"}, "."),
		gatewayOnly,
	}})
	for _, tc := range []struct{ ns, host, want string }{
		{"web", "reviews.web.svc.cluster.local", "web/old"},
		{"app", "reviews.web.svc.cluster.local", "app/private"},
		{"web", "details.web.svc.cluster.local", "web/wild"},
		{"web", "ratings.web.svc.cluster.local", "web/wild"},
		{"web", "details.other.svc.cluster.local", ""},
	} {
		got := ""
		if b := snap.VirtualServiceFor(tc.ns, tc.host); b != nil {
			got = b.Meta.String()
		}
		if got != tc.want {
			t.Errorf("VirtualServiceFor(%s, %s) = %q, want %q", tc.ns, tc.host, got, tc.want)
		}
	}
	var conflicts []string
	for _, p := range snap.Problems() {
		conflicts = append(conflicts, p.Meta.String()+" "+p.Field)
	}
	if diff := cmp.Diff([]string{"web/new spec.hosts"}, conflicts); diff != "" {
		t.Errorf("problems (-want +got):\n%s\n%v", diff, snap.Problems())
	}
}

func dr(name, ns string, created int, host string, subsets ...string) *DestinationRule {
	spec := &networking.DestinationRule{Host: host}
	for _, s := range subsets {
		spec.Subsets = append(spec.Subsets, &networking.Subset{Name: s, Labels: map[string]string{"version": s}})
	}
	return &DestinationRule{Meta: Meta{Name: name, Namespace: ns, Created: at(created)}, Spec: spec}
}

func subsetNames(d *networking.DestinationRule) string {
	if d == nil {
		return "<none>"
	}
	var names []string
	for _, s := range d.GetSubsets() {
		names = append(names, s.GetName())
	}
	return strings.Join(names, ",")
}

func TestDestinationRuleForLookupOrderAndMerge(t *testing.T) {
	withPolicy := dr("second", "web", 2, "reviews", "v2", "v1")
	withPolicy.Spec.TrafficPolicy = &networking.TrafficPolicy{LoadBalancer: &networking.LoadBalancerSettings{}}
	snap := Build(Input{
		RootNamespace: "istio-system",
		Services:      []*Service{svc("reviews", "web"), svc("ratings", "web")},
		DestinationRules: []*DestinationRule{
			dr("first", "web", 1, "reviews", "v1"),
			withPolicy,
			dr("client", "app", 3, "reviews.web.svc.cluster.local", "mine"),
			dr("mesh", "istio-system", 0, "*.svc.cluster.local", "all"),
			dr("bad", "web", 0, "ratings", "x", "x"),
		},
	})
	reviews := snap.ServiceFor("web", "reviews.web.svc.cluster.local")
	ratings := snap.ServiceFor("web", "ratings.web.svc.cluster.local")
	merged := snap.DestinationRuleFor(Proxy{Namespace: "web"}, reviews)
	if got := subsetNames(merged); got != "v1,v2" {
		t.Errorf("merged subsets = %s, want v1,v2 (first rule's v1 wins)", got)
	}
	if merged.GetSubsets()[0].GetLabels()["version"] != "v1" || merged.GetTrafficPolicy() == nil {
		t.Errorf("merge lost data: %v", merged)
	}
	if got := subsetNames(snap.DestinationRuleFor(Proxy{Namespace: "app"}, reviews)); got != "mine" {
		t.Errorf("client namespace rule: got %s", got)
	}
	if got := subsetNames(snap.DestinationRuleFor(Proxy{Namespace: "web"}, ratings)); got != "all" {
		t.Errorf("root namespace fallback: got %s (the invalid rule must be skipped)", got)
	}
	if len(snap.Problems()) != 1 || snap.Problems()[0].Field != "spec.subsets[1].name" {
		t.Errorf("problems = %v", snap.Problems())
	}
}

func TestServiceEntryBecomesServices(t *testing.T) {
	snap := Build(Input{
		ServiceEntries: []*ServiceEntry{
			{Meta: Meta{Name: "ext", Namespace: "web"}, Spec: &networking.ServiceEntry{
				Hosts: []string{"api.example.com", "www.example.com"}, Location: networking.ServiceEntry_MESH_EXTERNAL,
				Resolution: networking.ServiceEntry_DNS, Ports: []*networking.ServicePort{{Number: 443, Name: "https", Protocol: "TLS"}},
			}},
			{Meta: Meta{Name: "vm", Namespace: "web"}, Spec: &networking.ServiceEntry{
				Hosts: []string{"vm.internal"}, Resolution: networking.ServiceEntry_STATIC,
				Ports:            []*networking.ServicePort{{Number: 80, Name: "http"}},
				WorkloadSelector: &networking.WorkloadSelector{Labels: map[string]string{"app": "vm"}},
			}},
			{Meta: Meta{Name: "broken", Namespace: "web"}, Spec: &networking.ServiceEntry{Hosts: []string{"x.example.com"}}},
		},
		WorkloadEntries: []*WorkloadEntry{
			{Meta: Meta{Name: "vm-1", Namespace: "web"}, Spec: &networking.WorkloadEntry{Address: "10.9.0.2", Labels: map[string]string{"app": "vm"}, Ports: map[string]uint32{"http": 8080}}},
			{Meta: Meta{Name: "other-ns", Namespace: "db"}, Spec: &networking.WorkloadEntry{Address: "10.9.0.3", Labels: map[string]string{"app": "vm"}}},
		},
		Workloads: []*Workload{{Name: "pod", Namespace: "web", Address: "10.9.0.1", Labels: map[string]string{"app": "vm"}}},
	})
	api := snap.ServiceFor("web", "api.example.com")
	if api == nil || api.Resolution != ResolutionDNS || !api.MeshExternal || api.Ports[0].Protocol != ProtocolTLS {
		t.Fatalf("api.example.com = %+v", api)
	}
	if len(api.Endpoints) != 1 || api.Endpoints[0].Address != "api.example.com" {
		t.Errorf("a DNS entry without endpoints resolves its own host, got %+v", api.Endpoints)
	}
	vm := snap.ServiceFor("web", "vm.internal")
	var addrs []string
	for _, e := range vm.Endpoints {
		addrs = append(addrs, e.Address)
	}
	if diff := cmp.Diff([]string{"10.9.0.1", "10.9.0.2"}, addrs); diff != "" {
		t.Errorf("selected endpoints (-want +got):\n%s", diff)
	}
	if got := vm.Endpoints[1].PortFor(vm.Ports[0]); got != 8080 {
		t.Errorf("WorkloadEntry port = %d, want 8080", got)
	}
	if snap.ServiceFor("web", "x.example.com") != nil || len(snap.Problems()) != 1 || snap.Problems()[0].Field != "spec.ports" {
		t.Errorf("an entry without ports must be skipped and reported: %v", snap.Problems())
	}
}

func TestResolveHostAndExportTo(t *testing.T) {
	for in, want := range map[string]string{
		"reviews":                       "reviews.web.svc.cluster.local",
		"reviews.prod":                  "reviews.prod",
		"*":                             "*",
		"*.example.com":                 "*.example.com",
		"reviews.web.svc.cluster.local": "reviews.web.svc.cluster.local",
	} {
		if got := ResolveHost(in, "web", DefaultDomainSuffix); got != want {
			t.Errorf("ResolveHost(%q) = %q, want %q", in, got, want)
		}
	}
	if _, err := ParseExportTo([]string{"~", "web"}, "web"); err == nil {
		t.Error(`"~" with a namespace must be rejected`)
	}
	e, _ := ParseExportTo([]string{".", "db"}, "web")
	if !e.VisibleTo("web") || !e.VisibleTo("db") || e.VisibleTo("other") {
		t.Errorf("exportTo [., db] = %+v", e)
	}
}
