package xds

import (
	"sync/atomic"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// TestChangedEDSClusterResendsItsAssignment: a changed EDS cluster marks the
// assignment it is served with changed (its service name, or its own name), read
// from the marshaled snapshot, which keeps no messages; other clusters mark none.
func TestChangedEDSClusterResendsItsAssignment(t *testing.T) {
	static := &clusterv3.Cluster{Name: "s", ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC}}
	gen := func(v int) map[string][]types.Resource {
		a, b, s := cluster("a", v), cluster("b", v), static
		a.EdsClusterConfig.ServiceName = "svc-a"
		if v > 0 {
			s = &clusterv3.Cluster{Name: "s", ClusterDiscoveryType: static.ClusterDiscoveryType, ConnectTimeout: b.ConnectTimeout}
		}
		return map[string][]types.Resource{
			resourcev3.ClusterType:  {a, b, s},
			resourcev3.EndpointType: {endpoints("svc-a", 80), endpoints("b", 80), endpoints("s", 80)},
		}
	}
	var n atomic.Int64
	old, problems := buildSnapshot(gen(0), nil, newMarshaler(&n))
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	cur, _ := buildSnapshot(gen(1), old, newMarshaler(&n))
	d := diffSnapshots(old, cur)
	if got := d[resourcev3.ClusterType]; got == nil || len(got.changed) != 3 {
		t.Fatalf("clusters changed: %v, want a, b and s", got)
	}
	eds := d[resourcev3.EndpointType]
	if eds == nil {
		t.Fatal("no assignment marked changed")
	}
	for _, want := range []string{"svc-a", "b"} {
		if _, ok := eds.changed[want]; !ok {
			t.Errorf("assignment %q not marked changed: %v", want, eds.changed)
		}
	}
	if _, ok := eds.changed["s"]; ok || len(eds.changed) != 2 {
		t.Errorf("assignments marked changed: %v, want svc-a and b (s is a STATIC cluster's name)", eds.changed)
	}
}
