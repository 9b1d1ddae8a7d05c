package translate

import (
	"fmt"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"

	"loom.dev/loom/pkg/model"
)

func checkGRPCAssignment(t *testing.T, r types.Resource) {
	t.Helper()
	cla := r.(*endpointv3.ClusterLoadAssignment)
	seen := map[string]bool{}
	for _, l := range cla.GetEndpoints() {
		if l.GetLocality() == nil {
			t.Errorf("%s: gRPC rejects a locality without ID", cla.ClusterName)
		}
		if l.GetLoadBalancingWeight().GetValue() == 0 {
			t.Errorf("%s: gRPC ignores locality %v of weight 0", cla.ClusterName, l.GetLocality())
		}
		for _, e := range l.GetLbEndpoints() {
			sa := e.GetEndpoint().GetAddress().GetSocketAddress()
			key := fmt.Sprintf("%s:%d", sa.GetAddress(), sa.GetPortValue())
			if seen[key] {
				t.Errorf("%s: gRPC rejects repeated address %s:%d", cla.ClusterName, sa.GetAddress(), sa.GetPortValue())
			}
			seen[key] = true
			if w := e.GetLoadBalancingWeight(); w != nil && w.GetValue() == 0 {
				t.Errorf("%s: gRPC rejects endpoint weight 0", cla.ClusterName)
			}
		}
	}
}

func TestLoadAssignment(t *testing.T) {
	ep := func(addr, zone string, h model.Health, w uint32, labels ...string) *model.Endpoint {
		e := mkEndpoint(addr, labels...)
		e.Locality = model.Locality{Region: "eu", Zone: zone}
		e.Health, e.Weight = h, w
		return e
	}
	svc := mkService("web", "default", mkPorts("http:80"),
		ep("10.0.0.3", "b", model.Healthy, 0, "version=v1"),
		ep("10.0.0.1", "a", model.Draining, 5, "version=v1"),
		ep("10.0.0.2", "a", model.Unhealthy, 0, "version=v2"),
		ep("not-an-ip", "a", model.Healthy, 0, "version=v1"),
	)
	svc.Endpoints = append(svc.Endpoints, svc.Endpoints[0]) // the same address twice
	svc.Ports[0].TargetPort = 8080
	b := &clusterBuilder{p: grpcClient}
	cla := b.loadAssignment("c", svc, svc.Ports[0], map[string]string{"version": "v1"})

	if len(cla.Endpoints) != 2 {
		t.Fatalf("want localities eu/a and eu/b, got %v", cla.Endpoints)
	}
	a, bz := cla.Endpoints[0], cla.Endpoints[1]
	if a.Locality.Zone != "a" || bz.Locality.Zone != "b" {
		t.Errorf("localities not sorted: %v, %v", a.Locality, bz.Locality)
	}
	if len(a.LbEndpoints) != 1 || a.LbEndpoints[0].HealthStatus != corev3.HealthStatus_DRAINING ||
		a.LbEndpoints[0].GetLoadBalancingWeight().GetValue() != 5 || a.GetLoadBalancingWeight().GetValue() != 5 {
		t.Errorf("zone a: want the draining v1 endpoint of weight 5, got %v", a)
	}
	if got := bz.LbEndpoints; len(got) != 1 || got[0].GetEndpoint().GetAddress().GetSocketAddress().GetPortValue() != 8080 ||
		got[0].GetLoadBalancingWeight() != nil || bz.GetLoadBalancingWeight().GetValue() != 1 {
		t.Errorf("zone b: want one endpoint on the target port 8080 without explicit weight, got %v", got)
	}
	if !hasProblem(b.problems, "Service", "default/web", "spec.endpoints") {
		t.Errorf("the non-IP endpoint must be reported: %v", b.problems)
	}
	checkGRPCAssignment(t, cla)

	empty := b.loadAssignment("none", svc, svc.Ports[0], map[string]string{"version": "v9"})
	if empty.ClusterName != "none" || len(empty.Endpoints) != 0 {
		t.Errorf("a subset without endpoints must get an empty assignment, got %v", empty)
	}
}
