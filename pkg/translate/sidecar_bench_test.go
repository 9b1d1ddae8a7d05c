package translate

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	networking "istio.io/api/networking/v1alpha3"

	"loom.dev/loom/pkg/model"
)

// benchMesh is 1000 services in 10 namespaces, 5 endpoints each: 8 in 10
// HTTP, 1 TCP, 1 with an unnamed (sniffed) port; and 100 VirtualServices,
// 90 splitting HTTP traffic by path and 10 weighting TCP traffic.
func benchMesh() model.Input {
	var in model.Input
	for i := range 1000 {
		ns := fmt.Sprintf("ns-%d", i%10)
		port := fxPort("http", 8080, model.ProtocolHTTP)
		switch i % 10 {
		case 8:
			port = fxPort("tcp", 5432, model.ProtocolTCP)
		case 9:
			port = fxPort("unnamed", 7000, model.ProtocolUnknown)
		}
		var eps []string
		for e := range 5 {
			eps = append(eps, fmt.Sprintf("10.%d.%d.%d", 1+i/250, i%250, e+1))
		}
		in.Services = append(in.Services, fxService(fmt.Sprintf("svc-%d", i), ns, fmt.Sprintf("10.0.%d.%d", i/250, i%250), []model.Port{port}, eps...))
	}
	for i := range 100 {
		svc := in.Services[i*10]
		spec := &networking.VirtualService{Hosts: []string{svc.Name}}
		if i < 90 {
			spec.Http = []*networking.HTTPRoute{
				{Match: []*networking.HTTPMatchRequest{{Uri: &networking.StringMatch{MatchType: &networking.StringMatch_Prefix{Prefix: "/v2"}}}}, Route: fxHTTPRouteTo(in.Services[i*10+1].Hostname, 8080)},
				{Route: fxHTTPRouteTo(svc.Name, 8080)},
			}
		} else {
			svc = in.Services[(i-90)*10+8]
			spec = &networking.VirtualService{Hosts: []string{svc.Name}, Tcp: []*networking.TCPRoute{{Route: []*networking.RouteDestination{
				fxRouteTo(svc.Name, 5432, "", 90), fxRouteTo(in.Services[(i-90)*10+18].Hostname, 5432, "", 10),
			}}}}
		}
		in.VirtualServices = append(in.VirtualServices, fxVirtualService(fmt.Sprintf("vs-%d", i), svc.Namespace, i, spec))
	}
	return in
}

func BenchmarkForProxySidecar(b *testing.B) {
	snap := model.Build(benchMesh())
	p := fxSidecarProxy("ns-0", map[string]string{"app": "svc-0"}, "10.1.0.1")
	res, _ := ForProxy(snap, p)
	validateAll(b, res)
	b.ReportAllocs()
	for b.Loop() {
		ForProxy(snap, p)
	}
}

// BenchmarkSidecarsOfOneModel translates 40 workload sidecars (4 in each of 10
// namespaces) of one model, alone and through a Cache (one outbound part per namespace),
// in the order a push generates views: by key, so namespace by namespace.
func BenchmarkSidecarsOfOneModel(b *testing.B) {
	snap := model.Build(benchMesh())
	var proxies []model.Proxy
	for i := range 40 {
		proxies = append(proxies, fxSidecarProxy(fmt.Sprintf("ns-%d", i%10), map[string]string{"app": fmt.Sprintf("svc-%d", i)}, "10.1.0.1"))
	}
	slices.SortStableFunc(proxies, func(a, b model.Proxy) int { return strings.Compare(a.Namespace, b.Namespace) })
	b.Run("alone", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, p := range proxies {
				ForProxy(snap, p)
			}
		}
	})
	b.Run("cache", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c := NewCache(8)
			for _, p := range proxies {
				c.ForProxy(snap, p)
			}
		}
	})
}
