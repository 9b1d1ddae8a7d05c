package translate

import (
	"slices"
	"strings"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	networking "istio.io/api/networking/v1alpha3"

	"loom.dev/loom/pkg/model"
)

const gwName = "istio-system/ingress"

func gwServices() []*model.Service {
	return []*model.Service{
		fxService("reviews", "default", "10.0.0.10", []model.Port{fxPort("http", 9080, model.ProtocolHTTP)}, "10.1.0.1"),
		fxService("productpage", "default", "10.0.0.15", []model.Port{fxPort("http", 9080, model.ProtocolHTTP)}, "10.1.0.5"),
		fxService("mysql", "default", "10.0.0.20", []model.Port{fxPort("tcp-mysql", 3306, model.ProtocolTCP)}, "10.1.0.3"),
		fxService("secure", "default", "10.0.0.30", []model.Port{fxPort("tls", 443, model.ProtocolTLS)}, "10.1.0.30"),
		fxService("api", "prod", "10.0.2.1", []model.Port{fxPort("http", 8080, model.ProtocolHTTP)}, "10.1.2.1"),
		fxService("web", "dev", "10.0.3.1", []model.Port{fxPort("http", 8080, model.ProtocolHTTP)}, "10.1.3.1"),
	}
}

// gwBookinfo routes /reviews to reviews and the rest to productpage.
func gwBookinfo(minute int, hosts ...string) *model.VirtualService {
	return fxVirtualService("bookinfo", "default", minute, &networking.VirtualService{
		Hosts:    hosts,
		Gateways: []string{gwName},
		Http: []*networking.HTTPRoute{
			{Match: []*networking.HTTPMatchRequest{{Uri: &networking.StringMatch{MatchType: &networking.StringMatch_Prefix{Prefix: "/reviews"}}}}, Route: fxHTTPRouteTo("reviews", 9080)},
			{Route: fxHTTPRouteTo("productpage", 9080)},
		},
	})
}

func gwSimple(credential string) *networking.ServerTLSSettings {
	return &networking.ServerTLSSettings{Mode: networking.ServerTLSSettings_SIMPLE, CredentialName: credential}
}

func TestGatewayGolden(t *testing.T) {
	creds := []*model.Credential{fxCredential("bookinfo-cert", "istio-system", false), fxCredential("mtls-cert", "istio-system", true),
		fxCredential("split-cert", "istio-system", false), {Name: "split-cert-cacert", Namespace: "istio-system", CACert: []byte("split CA")}}
	for _, tc := range []struct {
		name string
		in   model.Input
	}{
		{"http", model.Input{
			Gateways:        []*model.Gateway{fxGateway("ingress", "istio-system", 0, fxServer(80, "HTTP", "http", nil, "bookinfo.example.com"))},
			VirtualServices: []*model.VirtualService{gwBookinfo(1, "bookinfo.example.com")},
		}},
		{"https-simple", model.Input{
			Gateways:        []*model.Gateway{fxGateway("ingress", "istio-system", 0, fxServer(443, "HTTPS", "https", gwSimple("bookinfo-cert"), "bookinfo.example.com"))},
			VirtualServices: []*model.VirtualService{gwBookinfo(1, "bookinfo.example.com")},
		}},
		{"mutual", model.Input{
			Gateways: []*model.Gateway{fxGateway("ingress", "istio-system", 0,
				fxServer(443, "HTTPS", "https", &networking.ServerTLSSettings{
					Mode: networking.ServerTLSSettings_MUTUAL, CredentialName: "mtls-cert",
					SubjectAltNames: []string{"spiffe://example.com/client"}, MinProtocolVersion: networking.ServerTLSSettings_TLSV1_2,
				}, "bookinfo.example.com"),
				fxServer(8443, "HTTPS", "https-split", &networking.ServerTLSSettings{Mode: networking.ServerTLSSettings_MUTUAL, CredentialName: "split-cert"}, "bookinfo.example.com"),
			)},
			VirtualServices: []*model.VirtualService{gwBookinfo(1, "bookinfo.example.com")},
		}},
		// ISTIO_MUTUAL: an HTTPS server for mesh clients of the trust
		// domain, a TLS server (east-west style) for listed identities.
		{"istio-mutual", model.Input{
			TrustDomain: "example.org",
			Gateways: []*model.Gateway{fxGateway("ingress", "istio-system", 0,
				fxServer(443, "HTTPS", "https", &networking.ServerTLSSettings{Mode: networking.ServerTLSSettings_ISTIO_MUTUAL}, "bookinfo.example.com"),
				fxServer(15443, "TLS", "tls", &networking.ServerTLSSettings{
					Mode: networking.ServerTLSSettings_ISTIO_MUTUAL, SubjectAltNames: []string{"spiffe://example.org/ns/default/sa/client"},
				}, "*"),
			)},
			VirtualServices: []*model.VirtualService{gwBookinfo(1, "bookinfo.example.com"),
				fxVirtualService("mysql", "default", 2, &networking.VirtualService{
					Hosts: []string{"*"}, Gateways: []string{gwName},
					Tcp: []*networking.TCPRoute{{Route: []*networking.RouteDestination{fxRouteTo("mysql", 0, "", 0)}}},
				})},
		}},
		{"passthrough", model.Input{
			Gateways: []*model.Gateway{fxGateway("ingress", "istio-system", 0,
				fxServer(443, "TLS", "tls", &networking.ServerTLSSettings{Mode: networking.ServerTLSSettings_PASSTHROUGH}, "*.example.com"),
				fxServer(3306, "TCP", "mysql", nil, "*"),
			)},
			VirtualServices: []*model.VirtualService{
				fxVirtualService("secure", "default", 1, &networking.VirtualService{
					Hosts: []string{"secure.example.com", "other.example.com"}, Gateways: []string{gwName},
					Tls: []*networking.TLSRoute{
						{Match: []*networking.TLSMatchAttributes{{SniHosts: []string{"secure.example.com"}}}, Route: []*networking.RouteDestination{fxRouteTo("secure", 443, "", 0)}},
						// Not a host of the server: no chain.
						{Match: []*networking.TLSMatchAttributes{{SniHosts: []string{"secure.example.org"}}}, Route: []*networking.RouteDestination{fxRouteTo("secure", 443, "", 0)}},
					},
				}),
				fxVirtualService("mysql", "default", 2, &networking.VirtualService{
					Hosts: []string{"*"}, Gateways: []string{gwName},
					Tcp: []*networking.TCPRoute{{Match: []*networking.L4MatchAttributes{{Port: 3306}}}, {Route: []*networking.RouteDestination{fxRouteTo("mysql", 0, "", 0)}}},
				}),
			},
		}},
		{"https-redirect", model.Input{
			Gateways: []*model.Gateway{fxGateway("ingress", "istio-system", 0,
				fxServer(80, "HTTP", "http", &networking.ServerTLSSettings{HttpsRedirect: true}, "bookinfo.example.com", "old.example.com"),
				fxServer(443, "HTTPS", "https", gwSimple("bookinfo-cert"), "bookinfo.example.com"),
			)},
			VirtualServices: []*model.VirtualService{gwBookinfo(1, "bookinfo.example.com")},
		}},
		{"merged-virtualservices", model.Input{
			Gateways: []*model.Gateway{fxGateway("ingress", "istio-system", 0, fxServer(80, "HTTP", "http", nil, "*.example.com"))},
			VirtualServices: []*model.VirtualService{
				fxVirtualService("catch-all", "default", 2, &networking.VirtualService{
					Hosts: []string{"bookinfo.example.com"}, Gateways: []string{gwName},
					Http: []*networking.HTTPRoute{{Route: fxHTTPRouteTo("productpage", 9080)}},
				}),
				fxVirtualService("reviews", "default", 1, &networking.VirtualService{
					Hosts: []string{"bookinfo.example.com"}, Gateways: []string{gwName},
					Http: []*networking.HTTPRoute{{
						Match: []*networking.HTTPMatchRequest{{Uri: &networking.StringMatch{MatchType: &networking.StringMatch_Prefix{Prefix: "/reviews"}}}},
						Route: fxHTTPRouteTo("reviews", 9080),
					}},
				}),
			},
		}},
		{"namespace-restricted", model.Input{
			Gateways: []*model.Gateway{fxGateway("ingress", "istio-system", 0, fxServer(80, "HTTP", "http", nil, "prod/*.example.com"))},
			VirtualServices: []*model.VirtualService{
				fxVirtualService("api", "prod", 1, &networking.VirtualService{Hosts: []string{"api.example.com"}, Gateways: []string{gwName},
					Http: []*networking.HTTPRoute{{Route: fxHTTPRouteTo("api", 8080)}}}),
				fxVirtualService("web", "dev", 1, &networking.VirtualService{Hosts: []string{"web.example.com"}, Gateways: []string{gwName},
					Http: []*networking.HTTPRoute{{Route: fxHTTPRouteTo("web", 8080)}}}),
			},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Services = gwServices()
			tc.in.Credentials = creds
			res, problems := ForProxy(model.Build(tc.in), fxGatewayProxy())
			assertGoldenProxy(t, "gateway", tc.name, res, problems)
		})
	}
}

func gwRouteConfig(t *testing.T, res Resources, name string) *routev3.RouteConfiguration {
	t.Helper()
	for _, r := range res[resourcev3.RouteType] {
		if cachev3.GetResourceName(r) == name {
			return r.(*routev3.RouteConfiguration)
		}
	}
	t.Fatalf("no route configuration %q among %v", name, scNames(res, resourcev3.RouteType))
	return nil
}

func TestGatewayMergesVirtualServicesInPrecedenceOrder(t *testing.T) {
	snap := model.Build(model.Input{
		Services: gwServices(),
		Gateways: []*model.Gateway{fxGateway("ingress", "istio-system", 0, fxServer(80, "HTTP", "http", nil, "bookinfo.example.com"))},
		VirtualServices: []*model.VirtualService{
			fxVirtualService("newer", "default", 2, &networking.VirtualService{Hosts: []string{"bookinfo.example.com"}, Gateways: []string{gwName},
				Http: []*networking.HTTPRoute{{Route: fxHTTPRouteTo("productpage", 9080)}}}),
			fxVirtualService("older", "default", 1, &networking.VirtualService{Hosts: []string{"bookinfo.example.com"}, Gateways: []string{gwName},
				Http: []*networking.HTTPRoute{{Route: fxHTTPRouteTo("reviews", 9080)}}}),
		},
	})
	res, _ := ForProxy(snap, fxGatewayProxy())
	rc := gwRouteConfig(t, res, "http.80")
	if len(rc.GetVirtualHosts()) != 1 {
		t.Fatalf("want one virtual host for the shared host, got %d", len(rc.GetVirtualHosts()))
	}
	var clusters []string
	for _, r := range rc.GetVirtualHosts()[0].GetRoutes() {
		clusters = append(clusters, r.GetRoute().GetCluster())
	}
	want := []string{"outbound|9080||reviews.default.svc.cluster.local", "outbound|9080||productpage.default.svc.cluster.local"}
	if !slices.Equal(clusters, want) {
		t.Errorf("routes go to %v, want the older VirtualService's first: %v", clusters, want)
	}
}

func TestGatewayProblems(t *testing.T) {
	for _, tc := range []struct {
		name      string
		gateways  []*model.Gateway
		field     string // of the reported problem
		listeners []string
	}{
		{
			name: "missing credential skips only that server",
			gateways: []*model.Gateway{fxGateway("ingress", "istio-system", 0,
				fxServer(443, "HTTPS", "https", gwSimple("nope"), "bookinfo.example.com"),
				fxServer(80, "HTTP", "http", nil, "bookinfo.example.com"))},
			field:     "spec.servers[0].tls.credentialName",
			listeners: []string{"0.0.0.0_80"},
		},
		{
			name: "MUTUAL without a CA",
			gateways: []*model.Gateway{fxGateway("ingress", "istio-system", 0,
				fxServer(443, "HTTPS", "https", &networking.ServerTLSSettings{Mode: networking.ServerTLSSettings_MUTUAL, CredentialName: "bookinfo-cert"}, "bookinfo.example.com"))},
			field: "spec.servers[0].tls.credentialName",
		},
		{
			name: "port protocol conflict drops the newer server",
			gateways: []*model.Gateway{
				fxGateway("ingress", "istio-system", 0, fxServer(80, "HTTP", "http", nil, "bookinfo.example.com")),
				fxGateway("tcp", "istio-system", 1, fxServer(80, "TCP", "tcp", nil, "*")),
			},
			field:     "spec.servers[0]",
			listeners: []string{"0.0.0.0_80"},
		},
		{
			name: "duplicate TLS host on a port",
			gateways: []*model.Gateway{fxGateway("ingress", "istio-system", 0,
				fxServer(443, "HTTPS", "https", gwSimple("bookinfo-cert"), "bookinfo.example.com"),
				fxServer(443, "HTTPS", "https-2", gwSimple("bookinfo-cert"), "bookinfo.example.com", "other.example.com"))},
			field:     "spec.servers[1]",
			listeners: []string{"0.0.0.0_443"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap := model.Build(model.Input{
				Services:        gwServices(),
				Gateways:        tc.gateways,
				VirtualServices: []*model.VirtualService{gwBookinfo(5, "bookinfo.example.com")},
				Credentials:     []*model.Credential{fxCredential("bookinfo-cert", "istio-system", false)},
			})
			res, problems := ForProxy(snap, fxGatewayProxy())
			validateAll(t, res)
			var found bool
			for _, p := range problems {
				found = found || (p.Kind == "Gateway" && p.Field == tc.field)
			}
			if !found {
				t.Errorf("no Gateway problem at %s; got %v", tc.field, problems)
			}
			if got := scNames(res, resourcev3.ListenerType); !slices.Equal(got, tc.listeners) {
				t.Errorf("listeners %v, want %v", got, tc.listeners)
			}
		})
	}
}

func TestGatewayCredentialFromWorkloadNamespace(t *testing.T) {
	// The Secret lives in the Gateway's namespace but not the gateway
	// workload's: Istio does not use it.
	snap := model.Build(model.Input{
		Services:    gwServices(),
		Gateways:    []*model.Gateway{fxGateway("ingress", "default", 0, fxServer(443, "HTTPS", "https", gwSimple("bookinfo-cert"), "*"))},
		Credentials: []*model.Credential{fxCredential("bookinfo-cert", "default", false)},
	})
	res, problems := ForProxy(snap, fxGatewayProxy())
	if len(res[resourcev3.SecretType]) != 0 || len(problems) != 1 || !strings.Contains(problems[0].Message, `namespace "istio-system"`) {
		t.Errorf("secrets %v, problems %v", scNames(res, resourcev3.SecretType), problems)
	}
}

func TestGatewayListensOnServiceTargetPort(t *testing.T) {
	gwSvc := fxService("istio-ingressgateway", "istio-system", "10.0.9.1", []model.Port{
		{Name: "http2", Number: 80, Protocol: model.ProtocolHTTP, TargetPort: 8080},
		{Name: "https", Number: 443, Protocol: model.ProtocolHTTPS, TargetPort: 8443},
	})
	gwSvc.Selector = map[string]string{"istio": "ingressgateway"}
	snap := model.Build(model.Input{
		Services: append(gwServices(), gwSvc),
		Gateways: []*model.Gateway{fxGateway("ingress", "istio-system", 0,
			fxServer(80, "HTTP", "http", nil, "bookinfo.example.com"),
			fxServer(443, "HTTPS", "https", gwSimple("bookinfo-cert"), "bookinfo.example.com"),
			fxServer(9000, "HTTP", "direct", nil, "bookinfo.example.com"))},
		VirtualServices: []*model.VirtualService{gwBookinfo(1, "bookinfo.example.com")},
		Credentials:     []*model.Credential{fxCredential("bookinfo-cert", "istio-system", false)},
	})
	res, problems := ForProxy(snap, fxGatewayProxy())
	validateAll(t, res)
	if len(problems) > 0 {
		t.Errorf("problems: %v", problems)
	}
	if got, want := scNames(res, resourcev3.ListenerType), []string{"0.0.0.0_8080", "0.0.0.0_8443", "0.0.0.0_9000"}; !slices.Equal(got, want) {
		t.Errorf("listeners %v, want %v", got, want)
	}
	if got, want := scNames(res, resourcev3.RouteType), []string{"http.8080", "http.9000", "https.443.https.ingress.istio-system"}; !slices.Equal(got, want) {
		t.Errorf("routes %v, want %v", got, want)
	}
	// Virtual hosts keep the port clients used.
	if vh := gwRouteConfig(t, res, "http.8080").GetVirtualHosts()[0]; vh.GetName() != "bookinfo.example.com:80" {
		t.Errorf("virtual host %q", vh.GetName())
	}
}
