package translate

import (
	"testing"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"

	"loom.dev/loom/pkg/model"
)

// Assignments for the services whose endpoints changed are exactly the ones
// ForProxy builds for them (subsets included), for every proxy kind, and
// nothing for a service the proxy does not see.
func TestAssignmentsMatchForProxy(t *testing.T) {
	http := []model.Port{fxPort("http", 8080, model.ProtocolHTTP)}
	reviews := fxService("reviews", "default", "10.0.0.1", http, "10.1.0.1", "10.1.0.2")
	reviews.Endpoints[1].Labels = map[string]string{"app": "reviews", "version": "v2"}
	ratings := fxService("ratings", "default", "10.0.0.2", http, "10.1.0.3")
	private := fxService("private", "other", "10.0.0.3", http, "10.1.0.4")
	exportTo, err := model.ParseExportTo([]string{"."}, "other")
	if err != nil {
		t.Fatal(err)
	}
	private.ExportTo = exportTo
	in := model.Input{Services: []*model.Service{reviews, ratings, private}}
	in.DestinationRules = []*model.DestinationRule{mkDR(t, "default", "reviews", `
host: reviews
subsets:
- name: v2
  labels: {version: v2}
`)}
	snap := model.Build(in)
	proxies := []model.Proxy{
		fxSidecarProxy("default", map[string]string{"app": "client"}, "10.2.0.1"),
		{ID: "grpc~default", Kind: model.KindGRPC, Namespace: "default", IPs: []string{"10.2.0.2"}},
		fxGatewayProxy(),
	}
	for _, p := range proxies {
		all, _ := ForProxy(snap, p)
		want := map[string]*endpointv3.ClusterLoadAssignment{}
		for _, r := range all[resourcev3.EndpointType] {
			cla := r.(*endpointv3.ClusterLoadAssignment)
			want[cla.GetClusterName()] = cla
		}
		got := Assignments(snap, p, []*model.Service{snap.ServiceFor("default", reviews.Hostname), snap.ServiceFor("other", private.Hostname)})
		if len(got) != 2 {
			t.Fatalf("%s: %d assignments, want reviews' default and v2 ones", p.ID, len(got))
		}
		for _, r := range got {
			cla := r.(*endpointv3.ClusterLoadAssignment)
			if !proto.Equal(cla, want[cla.GetClusterName()]) {
				t.Errorf("%s: %s differs from ForProxy's:\n%v\nwant\n%v", p.ID, cla.GetClusterName(), cla, want[cla.GetClusterName()])
			}
		}
	}
}
