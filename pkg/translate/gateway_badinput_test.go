package translate

import (
	"testing"

	networking "istio.io/api/networking/v1alpha3"

	"loom.dev/loom/pkg/model"
)

// Odd and invalid configuration must give valid resources and problems,
// never a panic or a NACK.
func TestSidecarAndGatewayTolerateBadInput(t *testing.T) {
	services := append(scBookinfo(),
		fxService("twin", "default", "10.0.0.20", []model.Port{fxPort("tcp", 3306, model.ProtocolTCP)}),                     // shares mysql's VIP and port
		fxService("dns-a", "default", "", []model.Port{fxPort("tcp", 9080, model.ProtocolTCP)}),                             // headless, no endpoints, on an HTTP port
		fxService("reserved", "default", "10.0.0.99", []model.Port{fxPort("http", virtualInboundPort, model.ProtocolHTTP)}), // a sidecar port
		fxService("cidr", "default", "", []model.Port{fxPort("tcp", 7777, model.ProtocolTCP)}),
	)
	services[len(services)-1].Addresses = []string{"192.168.0.0/16", "not-an-ip"}
	in := model.Input{
		Services: services,
		ServiceEntries: []*model.ServiceEntry{{Meta: model.Meta{Name: "ext", Namespace: "default"}, Spec: &networking.ServiceEntry{
			Hosts: []string{"db.example.com"}, Ports: []*networking.ServicePort{{Number: 9080, Name: "tcp", Protocol: "TCP"}}, Resolution: networking.ServiceEntry_DNS,
		}}},
		VirtualServices: []*model.VirtualService{
			fxVirtualService("mysql", "default", 1, &networking.VirtualService{Hosts: []string{"mysql"}, Tcp: []*networking.TCPRoute{
				{Route: []*networking.RouteDestination{{}}},
				{Match: []*networking.L4MatchAttributes{{DestinationSubnets: []string{"bogus"}}}, Route: []*networking.RouteDestination{fxRouteTo("mysql", 0, "", 0)}},
			}}),
			fxVirtualService("tls", "default", 2, &networking.VirtualService{Hosts: []string{"*"}, Gateways: []string{gwName, "mesh"}, Tls: []*networking.TLSRoute{
				{Match: []*networking.TLSMatchAttributes{{SniHosts: []string{"*"}}}, Route: []*networking.RouteDestination{fxRouteTo("nope", 1, "x", 0)}},
				{Match: []*networking.TLSMatchAttributes{{}}},
			}}),
		},
		Sidecars: []*model.Sidecar{scDefaultSidecar(&networking.Sidecar{Ingress: []*networking.IstioIngressListener{
			{}, {Port: &networking.SidecarPort{Number: 80}, DefaultEndpoint: "unix://"},
			{Port: &networking.SidecarPort{Number: 81}, DefaultEndpoint: "0.0.0.0:8081"},
			{Port: &networking.SidecarPort{Number: 81}, DefaultEndpoint: "127.0.0.1:8081"},
			{Port: &networking.SidecarPort{Number: 82}, Tls: &networking.ServerTLSSettings{}},
		}})},
		Gateways: []*model.Gateway{fxGateway("ingress", "istio-system", 0,
			fxServer(443, "HTTPS", "https", nil, "a.example.com"),
			fxServer(443, "TLS", "tls", &networking.ServerTLSSettings{Mode: networking.ServerTLSSettings_AUTO_PASSTHROUGH}, "*"),
			fxServer(443, "TLS", "tls", &networking.ServerTLSSettings{}, "*"),
			fxServer(443, "TLS", "tls2", &networking.ServerTLSSettings{}, "*/*"),
			fxServer(444, "HTTPS", "https", &networking.ServerTLSSettings{Mode: networking.ServerTLSSettings_SIMPLE, ServerCertificate: "/c", PrivateKey: "/k"}, "./x.com", "ns/"),
			fxServer(80, "UDP", "udp", nil, "*"),
			fxServer(81, "TCP", "tcp", nil, "*"),
			fxServer(81, "TCP", "tcp2", nil, "*"),
		)},
	}
	snap := model.Build(in)
	for _, p := range []model.Proxy{scProductpage, fxSidecarProxy("default", nil), fxGatewayProxy(), {Kind: model.KindGateway}} {
		res, problems := ForProxy(snap, p)
		validateAll(t, res)
		if len(problems) == 0 && p.Kind == model.KindSidecar {
			t.Errorf("%s: bad input reported no problem", p.ID)
		}
		for _, pr := range problems {
			if pr.Kind == "" || pr.Message == "" {
				t.Errorf("%s: incomplete problem %+v", p.ID, pr)
			}
		}
	}
}
