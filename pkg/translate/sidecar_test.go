package translate

import (
	"bytes"
	"slices"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tcpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	networking "istio.io/api/networking/v1alpha3"

	"loom.dev/loom/pkg/model"
)

func scBookinfo() []*model.Service {
	return []*model.Service{
		fxService("reviews", "default", "10.0.0.10", []model.Port{fxPort("http", 9080, model.ProtocolHTTP)}, "10.1.0.1", "10.1.0.2"),
		fxService("mysql", "default", "10.0.0.20", []model.Port{fxPort("tcp-mysql", 3306, model.ProtocolTCP)}, "10.1.0.3"),
		fxService("ratings", "other", "10.0.0.11", []model.Port{fxPort("http", 9080, model.ProtocolHTTP)}, "10.1.1.1"),
	}
}

var scProductpage = fxSidecarProxy("default", map[string]string{"app": "productpage"}, "10.1.0.9")

func scDefaultSidecar(spec *networking.Sidecar) *model.Sidecar {
	return &model.Sidecar{Meta: model.Meta{Name: "default", Namespace: "default", Created: fxCreated(0)}, Spec: spec}
}

func TestSidecarGolden(t *testing.T) {
	mysqlSubsets := &model.DestinationRule{Meta: model.Meta{Name: "mysql", Namespace: "default"}, Spec: &networking.DestinationRule{
		Host:    "mysql",
		Subsets: []*networking.Subset{{Name: "v1", Labels: map[string]string{"version": "v1"}}, {Name: "v2", Labels: map[string]string{"version": "v2"}}},
	}}
	redis := fxService("redis", "default", "10.0.0.21", []model.Port{fxPort("tcp", 6379, model.ProtocolTCP)}, "10.1.0.4")
	external := func(name string, hosts ...string) *model.ServiceEntry {
		return &model.ServiceEntry{Meta: model.Meta{Name: name, Namespace: "default", Created: fxCreated(1)}, Spec: &networking.ServiceEntry{
			Hosts:      hosts,
			Ports:      []*networking.ServicePort{{Number: 443, Name: "tls", Protocol: "TLS"}},
			Resolution: networking.ServiceEntry_DNS,
			Location:   networking.ServiceEntry_MESH_EXTERNAL,
		}}
	}
	inboundServices := []*model.Service{
		fxService("reviews", "default", "10.0.0.10", []model.Port{fxPort("http", 9080, model.ProtocolHTTP)}, "10.1.0.1"),
		fxService("reviews-metrics", "default", "10.0.0.12", []model.Port{fxPort("metrics", 9090, model.ProtocolUnknown)}, "10.1.0.1"),
		fxService("reviews-admin", "default", "10.0.0.13", []model.Port{fxPort("tcp-admin", 7000, model.ProtocolTCP)}, "10.1.0.1"),
	}
	inboundServices[0].Endpoints[0].Ports = map[string]uint32{"http": 8080}

	for _, tc := range []struct {
		name  string
		in    model.Input
		proxy model.Proxy
	}{
		{"default", model.Input{Services: scBookinfo()}, scProductpage},
		{"egress-scoping", model.Input{Services: scBookinfo(), Sidecars: []*model.Sidecar{scDefaultSidecar(&networking.Sidecar{
			Egress: []*networking.IstioEgressListener{{Hosts: []string{"./*"}}},
		})}}, scProductpage},
		{"registry-only", model.Input{Services: scBookinfo(), Sidecars: []*model.Sidecar{scDefaultSidecar(&networking.Sidecar{
			OutboundTrafficPolicy: &networking.OutboundTrafficPolicy{Mode: networking.OutboundTrafficPolicy_REGISTRY_ONLY},
		})}}, scProductpage},
		{"inbound", model.Input{Services: inboundServices}, fxSidecarProxy("default", map[string]string{"app": "reviews"}, "10.1.0.1")},
		{"tcp-weights", model.Input{
			Services:         append(scBookinfo(), redis),
			DestinationRules: []*model.DestinationRule{mysqlSubsets},
			VirtualServices: []*model.VirtualService{
				fxVirtualService("mysql", "default", 1, &networking.VirtualService{Hosts: []string{"mysql"}, Tcp: []*networking.TCPRoute{
					{Match: []*networking.L4MatchAttributes{{SourceLabels: map[string]string{"app": "other"}}}, Route: []*networking.RouteDestination{fxRouteTo("mysql", 0, "v2", 0)}},
					{Match: []*networking.L4MatchAttributes{{Port: 3306, SourceLabels: map[string]string{"app": "productpage"}}},
						Route: []*networking.RouteDestination{fxRouteTo("mysql", 0, "v1", 80), fxRouteTo("mysql", 0, "v2", 20)}},
				}}),
				fxVirtualService("redis", "default", 2, &networking.VirtualService{Hosts: []string{"redis"}, Tcp: []*networking.TCPRoute{
					{Route: []*networking.RouteDestination{fxRouteTo("redis", 0, "", 50), fxRouteTo("mysql", 0, "", 40)}},
				}}),
			},
		}, scProductpage},
		{"tls-sni", model.Input{
			Services: []*model.Service{fxService("secure", "default", "10.0.0.30", []model.Port{fxPort("tls", 8443, model.ProtocolTLS)}, "10.1.0.30")},
			ServiceEntries: []*model.ServiceEntry{
				external("example", "api.example.com", "www.example.com"),
				external("example-v2", "api-v2.example.com"),
			},
			VirtualServices: []*model.VirtualService{fxVirtualService("api", "default", 1, &networking.VirtualService{
				Hosts: []string{"api.example.com"},
				Tls: []*networking.TLSRoute{{
					Match: []*networking.TLSMatchAttributes{{SniHosts: []string{"api.example.com"}}},
					Route: []*networking.RouteDestination{fxRouteTo("api-v2.example.com", 443, "", 0)},
				}},
			})},
		}, scProductpage},
		{"headless-and-sniffing", model.Input{
			Services: []*model.Service{
				fxService("db", "default", "", []model.Port{fxPort("tcp-postgres", 5432, model.ProtocolTCP)}, "10.2.0.1", "10.2.0.2"),
				fxService("legacy", "default", "10.0.0.40", []model.Port{fxPort("legacy", 8000, model.ProtocolUnknown)}, "10.2.0.5"),
			},
			ServiceEntries: []*model.ServiceEntry{{Meta: model.Meta{Name: "mongo", Namespace: "default"}, Spec: &networking.ServiceEntry{
				Hosts:      []string{"mongo.example.com"},
				Ports:      []*networking.ServicePort{{Number: 27017, Name: "mongo", Protocol: "MONGO"}},
				Resolution: networking.ServiceEntry_DNS,
			}}},
		}, scProductpage},
		{"sidecar-ingress", model.Input{Services: scBookinfo(), Sidecars: []*model.Sidecar{scDefaultSidecar(&networking.Sidecar{
			Ingress: []*networking.IstioIngressListener{
				{Port: &networking.SidecarPort{Number: 9080, Protocol: "HTTP", Name: "http"}, DefaultEndpoint: "127.0.0.1:8080"},
				{Port: &networking.SidecarPort{Number: 9443, Protocol: "TCP", Name: "tcp"}, DefaultEndpoint: "unix:///var/run/app.sock"},
				{Port: &networking.SidecarPort{Number: 9444, Protocol: "TCP", Name: "bad"}, DefaultEndpoint: "10.0.0.1:80"},
			},
		})}}, scProductpage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, problems := ForProxy(model.Build(tc.in), tc.proxy)
			assertGoldenProxy(t, "sidecar", tc.name, res, problems)
		})
	}
}

func scFindListener(t *testing.T, res Resources, name string) *listenerv3.Listener {
	t.Helper()
	for _, r := range res[resourcev3.ListenerType] {
		if cachev3.GetResourceName(r) == name {
			return r.(*listenerv3.Listener)
		}
	}
	t.Fatalf("no listener %q among %v", name, scNames(res, resourcev3.ListenerType))
	return nil
}

func scNames(res Resources, typeURL string) []string {
	var out []string
	for _, r := range res[typeURL] {
		out = append(out, cachev3.GetResourceName(r))
	}
	return out
}

// tcpCluster is the cluster a chain's tcp_proxy goes to ("" if weighted).
func scTCPCluster(t *testing.T, chain *listenerv3.FilterChain) string {
	t.Helper()
	var tp tcpv3.TcpProxy
	if err := chain.GetFilters()[0].GetTypedConfig().UnmarshalTo(&tp); err != nil {
		t.Fatalf("chain %q: %v", chain.GetName(), err)
	}
	return tp.GetCluster()
}

func TestSidecarOutboundTrafficPolicy(t *testing.T) {
	allowAny := &networking.OutboundTrafficPolicy{Mode: networking.OutboundTrafficPolicy_ALLOW_ANY}
	registryOnly := &networking.OutboundTrafficPolicy{Mode: networking.OutboundTrafficPolicy_REGISTRY_ONLY}
	for _, tc := range []struct {
		mode         *networking.OutboundTrafficPolicy
		meshRegistry bool // the mesh config's default is REGISTRY_ONLY
		cluster      string
		catchAll     string
	}{
		// REGISTRY_ONLY is the enum's zero value: no policy must still mean ALLOW_ANY.
		{nil, false, PassthroughCluster, "allow_any"},
		{allowAny, false, PassthroughCluster, "allow_any"},
		{registryOnly, false, BlackHoleCluster, "block_all"},
		// The mesh-wide default applies where the Sidecar says nothing, and a Sidecar overrides it.
		{nil, true, BlackHoleCluster, "block_all"},
		{allowAny, true, PassthroughCluster, "allow_any"},
	} {
		snap := model.Build(model.Input{RegistryOnly: tc.meshRegistry, Services: scBookinfo(), Sidecars: []*model.Sidecar{scDefaultSidecar(&networking.Sidecar{
			OutboundTrafficPolicy: tc.mode,
		})}})
		res, _ := ForProxy(snap, scProductpage)
		vo := scFindListener(t, res, "virtualOutbound")
		if !vo.GetUseOriginalDst().GetValue() || vo.GetAddress().GetSocketAddress().GetPortValue() != 15001 {
			t.Errorf("%v: virtualOutbound must take port 15001 with use_original_dst", tc.mode)
		}
		if got := scTCPCluster(t, vo.GetFilterChains()[0]); got != tc.cluster {
			t.Errorf("%v: virtualOutbound goes to %q, want %q", tc.mode, got, tc.cluster)
		}
		var rc *routev3.RouteConfiguration
		for _, r := range res[resourcev3.RouteType] {
			if cachev3.GetResourceName(r) == "9080" {
				rc = r.(*routev3.RouteConfiguration)
			}
		}
		if rc == nil {
			t.Fatalf("%v: no route configuration 9080", tc.mode)
		}
		last := rc.GetVirtualHosts()[len(rc.GetVirtualHosts())-1]
		if last.GetName() != tc.catchAll || !slices.Equal(last.GetDomains(), []string{"*"}) {
			t.Errorf("%v: last virtual host %q %v, want %q for *", tc.mode, last.GetName(), last.GetDomains(), tc.catchAll)
		}
	}
}

func TestSidecarDomainsFollowKubernetesDNS(t *testing.T) {
	used := map[string]bool{}
	reviews := scBookinfo()[0]
	got := serviceDomains(reviews, 9080, "default", model.DefaultDomainSuffix, used)
	want := []string{
		"reviews.default.svc.cluster.local", "reviews.default.svc.cluster.local:9080",
		"reviews.default.svc", "reviews.default.svc:9080",
		"reviews.default", "reviews.default:9080",
		"reviews", "reviews:9080",
		"10.0.0.10", "10.0.0.10:9080",
	}
	if !slices.Equal(got, want) {
		t.Errorf("same namespace: got %v, want %v", got, want)
	}
	// From another namespace the bare name does not resolve, and domains
	// taken by an earlier service are not repeated.
	if got := serviceDomains(reviews, 9080, "other", model.DefaultDomainSuffix, used); len(got) != 0 {
		t.Errorf("domains already used must be skipped, got %v", got)
	}
	got = serviceDomains(reviews, 9080, "other", model.DefaultDomainSuffix, map[string]bool{})
	if slices.Contains(got, "reviews") || !slices.Contains(got, "reviews.default") {
		t.Errorf("from namespace other: got %v", got)
	}
}

func TestSidecarInboundPortsFromEndpoints(t *testing.T) {
	svc := fxService("reviews", "default", "10.0.0.10", []model.Port{fxPort("http", 9080, model.ProtocolHTTP)}, "10.1.0.1")
	svc.Endpoints[0].Ports = map[string]uint32{"http": 8080}
	pending := fxService("pending", "default", "10.0.0.14", []model.Port{{Name: "grpc", Number: 50051, Protocol: model.ProtocolGRPC, TargetPort: 5000}})
	pending.Selector = map[string]string{"app": "reviews"}
	snap := model.Build(model.Input{Services: []*model.Service{svc, pending}})

	got := inboundPortsFromServices(snap, fxSidecarProxy("default", map[string]string{"app": "reviews"}, "10.1.0.1"))
	var ports []uint32
	for _, ip := range got {
		ports = append(ports, ip.port)
	}
	// 8080 from the endpoint's named port; 5000 from the selector, before endpoints are ready.
	if !slices.Equal(ports, []uint32{5000, 8080}) {
		t.Errorf("inbound ports %v, want [5000 8080]", ports)
	}
	if got := inboundPortsFromServices(snap, fxSidecarProxy("default", map[string]string{"app": "productpage"}, "10.1.0.9")); len(got) != 0 {
		t.Errorf("a proxy serving nothing got inbound ports %+v", got)
	}
}

func TestSidecarOutputIsDeterministic(t *testing.T) {
	snap := model.Build(benchMesh())
	p := fxSidecarProxy("ns-0", map[string]string{"app": "svc-0"}, "10.1.0.1")
	first, _ := ForProxy(snap, p)
	for range 3 {
		again, _ := ForProxy(model.Build(benchMesh()), p)
		for typeURL, list := range first {
			if len(again[typeURL]) != len(list) {
				t.Fatalf("%s: %d then %d resources", typeURL, len(list), len(again[typeURL]))
			}
			for i, r := range list {
				a, _ := proto.MarshalOptions{Deterministic: true}.Marshal(r)
				b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(again[typeURL][i])
				if !bytes.Equal(a, b) {
					t.Fatalf("%s %s differs between runs", typeURL, cachev3.GetResourceName(r))
				}
			}
		}
	}
}
