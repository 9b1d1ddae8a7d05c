package translate

import (
	"testing"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"

	"loom.dev/loom/pkg/model"
)

// Assignments for the services whose endpoints changed are exactly the ones
// ForProxy builds for them (subsets included), for every proxy kind, and
// nothing for a service the proxy does not see (exportTo, a Sidecar's
// egress, which scopes sidecars but not gateways).
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
	changed := []*model.Service{snap.ServiceFor("default", reviews.Hostname), snap.ServiceFor("other", private.Hostname)}
	for _, p := range proxies {
		got := Assignments(snap, p, changed)
		if len(got) != 2 {
			t.Fatalf("%s: %d assignments, want reviews' default and v2 ones", p.ID, len(got))
		}
		checkSameAssignments(t, snap, p, got)
	}

	// A mesh-wide Sidecar that leaves reviews out: sidecars get nothing for
	// it, the gateway still does.
	in.RootNamespace = "istio-system"
	in.Sidecars = []*model.Sidecar{mkSidecar(t, "istio-system", "default", `egress: [{hosts: ["default/ratings.default.svc.cluster.local"]}]`)}
	snap = model.Build(in)
	changed = []*model.Service{snap.ServiceFor("default", reviews.Hostname)}
	if got := Assignments(snap, proxies[0], changed); len(got) != 0 {
		t.Errorf("a sidecar scoped away from reviews got %d assignments for it", len(got))
	}
	got := Assignments(snap, proxies[2], changed)
	if len(got) != 2 {
		t.Fatalf("the gateway got %d assignments for reviews, want 2 (Sidecars do not scope gateways)", len(got))
	}
	checkSameAssignments(t, snap, proxies[2], got)
}

// checkSameAssignments compares got with the assignments ForProxy builds.
func checkSameAssignments(t *testing.T, snap *model.Snapshot, p model.Proxy, got []types.Resource) {
	t.Helper()
	all, _ := ForProxy(snap, p)
	want := map[string]*endpointv3.ClusterLoadAssignment{}
	for _, r := range all[resourcev3.EndpointType] {
		cla := r.(*endpointv3.ClusterLoadAssignment)
		want[cla.GetClusterName()] = cla
	}
	for _, r := range got {
		cla := r.(*endpointv3.ClusterLoadAssignment)
		if !proto.Equal(cla, want[cla.GetClusterName()]) {
			t.Errorf("%s: %s differs from ForProxy's:\n%v\nwant\n%v", p.ID, cla.GetClusterName(), cla, want[cla.GetClusterName()])
		}
	}
}
