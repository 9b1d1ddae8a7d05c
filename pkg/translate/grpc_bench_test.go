package translate

import (
	"fmt"
	"testing"

	networking "istio.io/api/networking/v1alpha3"

	"loom.dev/loom/pkg/model"
)

// benchSnapshot is a mesh of 1000 services with one gRPC port and 5
// endpoints each (two versions), and 100 VirtualServices splitting traffic
// of the first 100 services between subsets of a DestinationRule.
func benchSnapshot() *model.Snapshot {
	in := model.Input{}
	for i := range 1000 {
		name := fmt.Sprintf("svc-%04d", i)
		var eps []*model.Endpoint
		for j := range 5 {
			eps = append(eps, mkEndpoint(fmt.Sprintf("10.%d.%d.%d", i/250, i%250, j+1), "app="+name, fmt.Sprintf("version=v%d", j%2+1)))
		}
		in.Services = append(in.Services, mkService(name, "bench", mkPorts("grpc:7070"), eps...))
		if i >= 100 {
			continue
		}
		in.DestinationRules = append(in.DestinationRules, &model.DestinationRule{Meta: mkMeta("bench", name), Spec: &networking.DestinationRule{
			Host: name,
			Subsets: []*networking.Subset{
				{Name: "v1", Labels: map[string]string{"version": "v1"}},
				{Name: "v2", Labels: map[string]string{"version": "v2"}},
			},
		}})
		in.VirtualServices = append(in.VirtualServices, &model.VirtualService{Meta: mkMeta("bench", name), Spec: &networking.VirtualService{
			Hosts: []string{name},
			Http: []*networking.HTTPRoute{
				{
					Match: []*networking.HTTPMatchRequest{{Headers: map[string]*networking.StringMatch{
						"x-canary": {MatchType: &networking.StringMatch_Exact{Exact: "true"}},
					}}},
					Route: []*networking.HTTPRouteDestination{{Destination: &networking.Destination{Host: name, Subset: "v2"}}},
				},
				{Route: []*networking.HTTPRouteDestination{
					{Destination: &networking.Destination{Host: name, Subset: "v1"}, Weight: 90},
					{Destination: &networking.Destination{Host: name, Subset: "v2"}, Weight: 10},
				}},
			},
		}})
	}
	return model.Build(in)
}

func BenchmarkForProxyGRPC(b *testing.B) {
	snap := benchSnapshot()
	proxy := model.Proxy{ID: "bench-client", Kind: model.KindGRPC, Namespace: "bench"}
	res, problems := ForProxy(snap, proxy)
	if len(problems) > 0 {
		b.Fatalf("problems: %v", problems)
	}
	b.ReportMetric(float64(len(res["type.googleapis.com/envoy.config.cluster.v3.Cluster"])), "clusters")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		ForProxy(snap, proxy)
	}
}
