package translate

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"

	"loom.dev/loom/pkg/model"
)

func namesOf(res Resources, typeURL string) []string {
	var out []string
	for _, r := range res[typeURL] {
		out = append(out, resourceName(r))
	}
	return out
}

func TestForGRPCGolden(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    func(t *testing.T) model.Input
		proxy model.Proxy
	}{
		{
			name:  "default",
			in:    func(*testing.T) model.Input { return model.Input{Services: mkMesh()} },
			proxy: mkClient("default"),
		},
		{
			// The client is in another namespace: no short "name:port"
			// aliases; reviews is private to its namespace; a Sidecar in
			// the client's namespace hides details.
			name: "scoping",
			in: func(t *testing.T) model.Input {
				mesh := mkMesh()
				mesh[0].ExportTo, _ = model.ParseExportTo([]string{"."}, "default")
				return model.Input{Services: mesh, Sidecars: []*model.Sidecar{
					mkSidecar(t, "shop", "default", `egress: [{hosts: ["default/ratings.default.svc.cluster.local", "./*"]}]`),
				}}
			},
			proxy: mkClient("shop"),
		},
		{
			name: "serviceentries",
			in: func(t *testing.T) model.Input {
				return model.Input{ServiceEntries: []*model.ServiceEntry{
					mkSE(t, "default", "dns", `
hosts: [api.example.com]
location: MESH_EXTERNAL
resolution: DNS
ports: [{number: 443, name: grpc-tls, protocol: GRPC}]`),
					mkSE(t, "default", "static", `
hosts: [vm.internal]
resolution: STATIC
ports: [{number: 7070, name: grpc}]
endpoints:
- {address: 10.2.0.1, labels: {version: v1}, locality: us/east}
- {address: 10.2.0.2, labels: {version: v2}, locality: us/west, weight: 3}`),
					mkSE(t, "default", "none", `
hosts: [passthrough.internal]
resolution: NONE
ports: [{number: 8080, name: http}]`),
				}}
			},
			proxy: mkClient("default"),
		},
		{
			name: "server",
			in: func(*testing.T) model.Input {
				return model.Input{Services: mkMesh()}
			},
			proxy: model.Proxy{ID: "ratings-1", Kind: model.KindGRPC, Namespace: "default", IPs: []string{"10.1.1.1"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap := model.Build(tc.in(t))
			res, problems := ForProxy(snap, tc.proxy)
			assertGolden(t, "grpc/"+tc.name, res, problems)
		})
	}
}

func TestForGRPCListenerNames(t *testing.T) {
	snap := model.Build(model.Input{Services: mkMesh()})
	res, _ := ForProxy(snap, mkClient("default"))
	names := namesOf(res, resourcev3.ListenerType)
	for _, want := range []string{
		"reviews.default.svc.cluster.local:9080", "reviews.default:9080", "reviews.default.svc:9080", "reviews:9080",
		"details:8080", "details:9000",
	} {
		if !slices.Contains(names, want) {
			t.Errorf("listener %q missing from %v", want, names)
		}
	}
	other, _ := ForProxy(snap, mkClient("shop"))
	if names := namesOf(other, resourcev3.ListenerType); slices.Contains(names, "reviews:9080") || !slices.Contains(names, "reviews.default:9080") {
		t.Errorf("a client in another namespace must get reviews.default:9080 but not reviews:9080; got %v", names)
	}
	// Every alias reads the route configuration of the full name.
	for _, r := range res[resourcev3.ListenerType] {
		l := r.(*listenerv3.Listener)
		if !strings.HasPrefix(l.Name, "reviews") {
			continue
		}
		if got := rdsName(t, l); got != "reviews.default.svc.cluster.local:9080" {
			t.Errorf("listener %s reads route configuration %q", l.Name, got)
		}
	}
	for _, r := range res[resourcev3.RouteType] {
		rc := r.(*routev3.RouteConfiguration)
		if rc.Name == "reviews.default.svc.cluster.local:9080" && !slices.Contains(rc.VirtualHosts[0].Domains, "reviews:9080") {
			t.Errorf("domains %v lack the short name", rc.VirtualHosts[0].Domains)
		}
	}
}

func rdsName(t *testing.T, l *listenerv3.Listener) string {
	t.Helper()
	hcm := &hcmv3.HttpConnectionManager{}
	if err := l.GetApiListener().GetApiListener().UnmarshalTo(hcm); err != nil {
		t.Fatal(err)
	}
	return hcm.GetRds().GetRouteConfigName()
}

// TestForGRPCIsDeterministic builds the same input twice, with maps
// populated in different orders, and requires byte-identical resources.
func TestForGRPCIsDeterministic(t *testing.T) {
	spec := `
hosts: [reviews]
http:
- match: [{headers: {a: {exact: "1"}, b: {exact: "2"}, c: {prefix: x}}, queryParams: {p: {exact: "1"}, q: {regex: "[a-z]+"}}}]
  headers: {request: {set: {x-1: a, x-2: b, x-3: c}, add: {y-1: a, y-2: b}}, response: {set: {z-1: a, z-2: b}}}
  fault: {abort: {httpStatus: 500, percentage: {value: 1}}}
  route: [{destination: {host: reviews, subset: v1}, weight: 50}, {destination: {host: reviews, subset: v2}, weight: 50}]
- route: [{destination: {host: reviews}}]`
	build := func() Resources {
		snap := model.Build(model.Input{
			Services:         mkMesh(),
			VirtualServices:  []*model.VirtualService{mkVS(t, "default", "vs", spec)},
			DestinationRules: []*model.DestinationRule{mkDR(t, "default", "reviews", reviewsSubsets)},
		})
		res, _ := ForProxy(snap, mkClient("default"))
		return res
	}
	first := build()
	for range 5 {
		again := build()
		for typeURL, list := range first {
			for i, r := range list {
				a, _ := proto.MarshalOptions{Deterministic: true}.Marshal(r)
				b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(again[typeURL][i])
				if !bytes.Equal(a, b) {
					t.Fatalf("%s %s differs between two translations", typeURL, resourceName(r))
				}
			}
		}
	}
}

func TestForGRPCScoping(t *testing.T) {
	mesh := mkMesh()
	mesh[0].ExportTo, _ = model.ParseExportTo([]string{"."}, "default") // reviews
	snap := model.Build(model.Input{Services: mesh, Sidecars: []*model.Sidecar{
		mkSidecar(t, "shop", "default", `egress: [{hosts: ["default/ratings.default.svc.cluster.local"]}]`),
	}})
	for _, tc := range []struct {
		ns   string
		want []string
	}{
		// reviews is private to default; the Sidecar in shop hides details.
		{"shop", []string{"outbound|9090||ratings.default.svc.cluster.local"}},
		{"other", []string{"outbound|8080||details.default.svc.cluster.local", "outbound|9000||details.default.svc.cluster.local", "outbound|9090||ratings.default.svc.cluster.local"}},
	} {
		res, _ := ForProxy(snap, mkClient(tc.ns))
		if got := namesOf(res, resourcev3.ClusterType); !slices.Equal(got, tc.want) {
			t.Errorf("client in %s: clusters %v, want %v", tc.ns, got, tc.want)
		}
		for _, l := range namesOf(res, resourcev3.ListenerType) {
			if strings.HasPrefix(l, "reviews") || (tc.ns == "shop" && strings.HasPrefix(l, "details")) {
				t.Errorf("client in %s sees listener %s", tc.ns, l)
			}
		}
	}
}

func TestRepeatedPortGivesOneClusterAndListener(t *testing.T) {
	svc := mkService("dup", "default", mkPorts("grpc:7070", "grpc-again:7070"), mkEndpoint("10.0.0.1"))
	res, _ := ForProxy(model.Build(model.Input{Services: []*model.Service{svc}}), mkClient("default"))
	for _, typeURL := range []string{resourcev3.ClusterType, resourcev3.ListenerType, resourcev3.RouteType, resourcev3.EndpointType} {
		names := namesOf(res, typeURL)
		if len(slices.Compact(slices.Clone(names))) != len(names) {
			t.Errorf("%s: repeated names %v", typeURL, names)
		}
	}
}
