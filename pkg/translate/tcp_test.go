package translate

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tcpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	networking "istio.io/api/networking/v1alpha3"

	"loom.dev/loom/pkg/model"
)

func tcpTestContext(gateway string) (*l4Context, *model.BoundVirtualService) {
	services := []*model.Service{
		fxService("mysql", "default", "10.0.0.20", []model.Port{fxPort("tcp", 3306, model.ProtocolTCP)}, "10.1.0.3"),
		fxService("redis", "default", "10.0.0.21", []model.Port{fxPort("tcp", 6379, model.ProtocolTCP), fxPort("tcp-admin", 6380, model.ProtocolTCP)}),
	}
	snap := model.Build(model.Input{
		Services: services,
		DestinationRules: []*model.DestinationRule{{Meta: model.Meta{Name: "mysql", Namespace: "default"}, Spec: &networking.DestinationRule{
			Host: "mysql", Subsets: []*networking.Subset{{Name: "v1"}, {Name: "v2"}},
		}}},
	})
	vs := &model.BoundVirtualService{VirtualService: fxVirtualService("mysql", "default", 0, &networking.VirtualService{}), Hosts: []string{"mysql.default.svc.cluster.local"}}
	p := fxSidecarProxy("default", map[string]string{"app": "web"}, "10.1.9.9")
	return newL4Context(snap, p, gateway, snap.ServicesFor(p)), vs
}

func decodeTCPProxy(t *testing.T, f *listenerv3.Filter) *tcpv3.TcpProxy {
	t.Helper()
	var tp tcpv3.TcpProxy
	if err := f.GetTypedConfig().UnmarshalTo(&tp); err != nil {
		t.Fatal(err)
	}
	return &tp
}

func TestTCPProxyDestinations(t *testing.T) {
	const v1, v2 = "outbound|3306|v1|mysql.default.svc.cluster.local", "outbound|3306|v2|mysql.default.svc.cluster.local"
	for _, tc := range []struct {
		name     string
		dests    []*networking.RouteDestination
		ok       bool
		cluster  string   // single destination
		weighted []string // "cluster=weight"
		problem  string   // substring of the one expected problem's field
	}{
		{name: "single destination ignores its weight", dests: []*networking.RouteDestination{fxRouteTo("mysql", 0, "", 30)}, ok: true, cluster: "outbound|3306||mysql.default.svc.cluster.local", problem: "spec.tcp[0].route[0].weight"},
		{name: "single destination without weight", dests: []*networking.RouteDestination{fxRouteTo("mysql", 0, "", 0)}, ok: true, cluster: "outbound|3306||mysql.default.svc.cluster.local"},
		{name: "weights", dests: []*networking.RouteDestination{fxRouteTo("mysql", 0, "v1", 80), fxRouteTo("mysql", 0, "v2", 20)}, ok: true, weighted: []string{v1 + "=80", v2 + "=20"}},
		{name: "zero weight is dropped", dests: []*networking.RouteDestination{fxRouteTo("mysql", 0, "v1", 100), fxRouteTo("mysql", 0, "v2", 0)}, ok: true, cluster: v1},
		{name: "weights not adding up to 100 split in proportion", dests: []*networking.RouteDestination{fxRouteTo("mysql", 0, "v1", 50), fxRouteTo("mysql", 0, "v2", 40)}, ok: true, weighted: []string{v1 + "=50", v2 + "=40"}, problem: "spec.tcp[0].route"},
		{name: "all weights 0", dests: []*networking.RouteDestination{fxRouteTo("mysql", 0, "v1", 0), fxRouteTo("mysql", 0, "v2", 0)}, problem: "spec.tcp[0].route"},
		{name: "negative weight", dests: []*networking.RouteDestination{fxRouteTo("mysql", 0, "v1", 110), fxRouteTo("mysql", 0, "v2", -10)}, problem: "spec.tcp[0].route[1].weight"},
		{name: "weights beyond what proxies accept", dests: []*networking.RouteDestination{fxRouteTo("mysql", 0, "v1", math.MaxInt32), fxRouteTo("mysql", 0, "v2", math.MaxInt32), fxRouteTo("mysql", 0, "", 2)}, problem: "spec.tcp[0].route"},
		{name: "unknown host goes to the black hole", dests: []*networking.RouteDestination{fxRouteTo("nope", 3306, "", 0)}, ok: true, cluster: BlackHoleCluster, problem: "destination.host"},
		{name: "unknown subset goes to the black hole", dests: []*networking.RouteDestination{fxRouteTo("mysql", 0, "v3", 0)}, ok: true, cluster: BlackHoleCluster, problem: "destination.subset"},
		{name: "several ports need one named", dests: []*networking.RouteDestination{fxRouteTo("redis", 0, "", 0)}, ok: true, cluster: BlackHoleCluster, problem: "destination.port"},
		{name: "no destination", problem: "spec.tcp[0].route"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, vs := tcpTestContext(model.MeshGateway)
			f, problems, ok := c.tcpProxy(vs, "spec.tcp[0].route", tc.dests, 3306)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v (problems %v)", ok, tc.ok, problems)
			}
			if tc.problem == "" && len(problems) > 0 || tc.problem != "" && (len(problems) != 1 || !strings.Contains(problems[0].Field, tc.problem)) {
				t.Errorf("problems %v, want one at %q", problems, tc.problem)
			}
			if !ok {
				return
			}
			tp := decodeTCPProxy(t, f)
			var weighted []string
			for _, w := range tp.GetWeightedClusters().GetClusters() {
				weighted = append(weighted, w.GetName()+"="+strconv.FormatUint(uint64(w.GetWeight()), 10))
			}
			if tp.GetCluster() != tc.cluster || !slices.Equal(weighted, tc.weighted) {
				t.Errorf("cluster %q weighted %v, want %q %v", tp.GetCluster(), weighted, tc.cluster, tc.weighted)
			}
		})
	}
}

func TestTCPRoutesFollowIstioOrder(t *testing.T) {
	c, vs := tcpTestContext(model.MeshGateway)
	vs.Spec.Tcp = []*networking.TCPRoute{
		// Other clients only: skipped for this proxy.
		{Match: []*networking.L4MatchAttributes{{SourceLabels: map[string]string{"app": "batch"}}}, Route: []*networking.RouteDestination{fxRouteTo("mysql", 0, "v2", 0)}},
		// Subnets of the applying matches merge into one chain; invalid ones are reported.
		{Match: []*networking.L4MatchAttributes{{DestinationSubnets: []string{"10.0.0.0/8", "not-a-cidr"}}, {DestinationSubnets: []string{"192.168.1.7"}}, {Port: 9999, DestinationSubnets: []string{"172.16.0.0/12"}}},
			Route: []*networking.RouteDestination{fxRouteTo("mysql", 0, "v1", 0)}},
		// Matches everything: ends the list.
		{Route: []*networking.RouteDestination{fxRouteTo("mysql", 0, "", 0)}},
		{Route: []*networking.RouteDestination{fxRouteTo("mysql", 0, "v2", 0)}},
	}
	routes, terminal, problems := c.tcpRoutes(vs, 3306)
	if !terminal || len(routes) != 2 {
		t.Fatalf("terminal %v, %d routes; want a terminal list of 2", terminal, len(routes))
	}
	if !slices.Equal(routes[0].prefixes, []string{"10.0.0.0/8", "192.168.1.7/32"}) || len(routes[1].prefixes) != 0 {
		t.Errorf("prefixes %v then %v", routes[0].prefixes, routes[1].prefixes)
	}
	if len(problems) != 1 || problems[0].Field != "spec.tcp[1].match[0].destinationSubnets[1]" {
		t.Errorf("problems %v", problems)
	}
}

func TestTLSRoutesSNI(t *testing.T) {
	c, vs := tcpTestContext("istio-system/gw")
	vs.Spec.Tls = []*networking.TLSRoute{
		{Match: []*networking.TLSMatchAttributes{{SniHosts: []string{"A.example.com"}, Gateways: []string{"mesh"}}}, Route: []*networking.RouteDestination{fxRouteTo("mysql", 0, "", 0)}},
		// Source labels describe sidecar clients: ignored on a gateway.
		{Match: []*networking.TLSMatchAttributes{{SniHosts: []string{"b.example.com", "*"}, SourceLabels: map[string]string{"app": "x"}}}, Route: []*networking.RouteDestination{fxRouteTo("mysql", 0, "", 0)}},
	}
	routes, problems := c.tlsRoutes(vs, 443, nil)
	if len(problems) != 0 || len(routes) != 1 {
		t.Fatalf("routes %+v problems %v", routes, problems)
	}
	if routes[0].serverNames != nil {
		t.Errorf("\"*\" must match any SNI, got %v", routes[0].serverNames)
	}
	routes, _ = c.tlsRoutes(vs, 443, func(sni []string) []string { return intersectHosts(sni, []string{"*.example.com"}) })
	if len(routes) != 1 || !slices.Equal(routes[0].serverNames, []string{"b.example.com", "*.example.com"}) {
		t.Errorf("narrowed to server hosts: %+v", routes)
	}
}

func TestChainSetKeepsFirstClaim(t *testing.T) {
	set := newChainSet()
	if !set.add(chainMatch{serverNames: []string{"a", "b"}}, "first", nil, nil) {
		t.Fatal("first chain refused")
	}
	if !set.add(chainMatch{serverNames: []string{"b", "c"}}, "first", nil, nil) {
		t.Fatal("second chain refused though c is free")
	}
	if got := set.chains[1].GetFilterChainMatch().GetServerNames(); !slices.Equal(got, []string{"c"}) {
		t.Errorf("second chain keeps %v, want [c]", got)
	}
	if set.chains[1].GetName() != "first#2" {
		t.Errorf("duplicate chain name not made unique: %q", set.chains[1].GetName())
	}
	if !set.add(chainMatch{}, "", nil, nil) || set.add(chainMatch{}, "", nil, nil) {
		t.Error("exactly one catch-all chain must be accepted")
	}
	if !set.add(chainMatch{prefixes: []string{"10.0.0.1/32", "10.0.0.2/32"}}, "", nil, nil) || set.add(chainMatch{prefixes: []string{"10.0.0.2/32"}}, "", nil, nil) {
		t.Error("a prefix must be claimed once")
	}
	if !set.needTLS || set.needHTTP {
		t.Errorf("inspectors: tls %v http %v", set.needTLS, set.needHTTP)
	}
}
