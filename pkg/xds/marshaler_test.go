package xds

import (
	"sync/atomic"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// TestMarshalerForgetsMessagesViewsStopReturning: a message every view returns is
// marshaled once however many views pass; one no view returned for 2*forgetAfter
// views is forgotten (marshaled again if a view returns it after all), so the push
// does not hold it.
func TestMarshalerForgetsMessagesViewsStopReturning(t *testing.T) {
	var count atomic.Int64
	m := newMarshaler(&count)
	m.forgetAfter = 2
	shared, once := cluster("shared", 1), cluster("once", 1)
	look := func(c *clusterv3.Cluster) {
		t.Helper()
		if _, err := m.resourceFor(resourcev3.ClusterType, c.GetName(), c, nil); err != nil {
			t.Fatal(err)
		}
	}
	look(shared)
	look(once)
	m.viewMarshaled()
	for range 6 {
		look(shared)
		m.viewMarshaled()
	}
	if got := count.Load(); got != 2 {
		t.Fatalf("%d marshals, want 2: the shared message once, however many views return it", got)
	}
	if _, kept := m.done[once]; kept {
		t.Fatal("a message no view returned for 6 views is still held")
	}
	if _, kept := m.older[once]; kept {
		t.Fatal("a message no view returned for 6 views is still held")
	}
	look(once)
	if got := count.Load(); got != 3 {
		t.Fatalf("%d marshals, want 3: a forgotten message is marshaled again", got)
	}
}

// Views whose messages differ but marshal to the same bytes share one resource; a
// message with other bytes gets its own. Each message is still marshaled once.
func TestMarshalerSharesEqualResourcesBetweenViews(t *testing.T) {
	var count atomic.Int64
	m := newMarshaler(&count)
	a, err := m.resourceFor(resourcev3.ClusterType, "c", cluster("c", 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := m.resourceFor(resourcev3.ClusterType, "c", cluster("c", 1), nil) // another view's message, same config
	other, _ := m.resourceFor(resourcev3.ClusterType, "c", cluster("c", 2), nil)
	if a != b || a == other || other.version == a.version || count.Load() != 3 {
		t.Fatalf("same bytes shared %v, other bytes separate %v, %d marshals; want shared, separate, 3", a == b, a != other, count.Load())
	}
	prev := &resource{name: "c", version: a.version, any: a.any}
	if r, _ := m.resourceFor(resourcev3.ClusterType, "c", cluster("c", 1), prev); r != a {
		t.Fatal("a view whose previous resource has the same bytes does not share the push's")
	}
}

// An endpoint push that leaves two views' assignment as it was changes neither view,
// though the second view's marshaled assignment is the first view's resource.
func TestUnchangedAssignmentIsNoChangeInEveryView(t *testing.T) {
	var count atomic.Int64
	build := func() *snapshot {
		s, _ := buildSnapshot(map[string][]types.Resource{resourcev3.EndpointType: {endpoints("svc", 80)}}, nil, newMarshaler(&count))
		return s
	}
	viewA, viewB := build(), build() // generated in different pushes: equal bytes, distinct resources
	m := newMarshaler(&count)
	for name, view := range map[string]*snapshot{"a": viewA, "b": viewB} {
		if next := withEndpoints(view, []types.Resource{endpoints("svc", 80)}, m); next != nil {
			t.Errorf("view %s: an unchanged assignment made a new snapshot", name)
		}
	}
	if next := withEndpoints(viewB, []types.Resource{endpoints("svc", 81)}, m); next == nil {
		t.Error("a changed assignment made no new snapshot")
	}
}

// Views of one push with the same resources of a type share the type's set (its index
// and encoding); a view with other resources has its own.
func TestViewsWithTheSameResourcesShareTheTypeSet(t *testing.T) {
	var count atomic.Int64
	m := newMarshaler(&count)
	gen := func(port uint32) map[string][]types.Resource {
		return map[string][]types.Resource{
			resourcev3.EndpointType: {endpoints("a", 80), endpoints("b", port)},
			resourcev3.ClusterType:  {cluster("a", int(port))},
		}
	}
	a, _ := buildSnapshot(gen(80), nil, m)
	b, _ := buildSnapshot(gen(80), nil, m)
	c, _ := buildSnapshot(gen(81), nil, m)
	if a.types[resourcev3.EndpointType] != b.types[resourcev3.EndpointType] || a.types[resourcev3.ClusterType] != b.types[resourcev3.ClusterType] {
		t.Error("two views with the same resources have type sets of their own")
	}
	if a.types[resourcev3.EndpointType] == c.types[resourcev3.EndpointType] || a.types[resourcev3.ClusterType] == c.types[resourcev3.ClusterType] {
		t.Error("a view with other resources shares another view's type set")
	}
	if got := c.types[resourcev3.EndpointType].get("a"); got != a.types[resourcev3.EndpointType].get("a") {
		t.Error("an assignment with the same bytes is not shared between the views' sets")
	}
}
