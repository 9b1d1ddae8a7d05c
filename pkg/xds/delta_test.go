package xds

import (
	"maps"
	"slices"
	"testing"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
)

func TestDeltaWildcardChangesAndRemovals(t *testing.T) {
	e := startEnv(t, true)
	e.gen.set("default", cdsType, clusters(3, 0)...)
	c := e.delta("envoy-d", "")
	c.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: cdsType}) // legacy wildcard
	r := c.recv()
	first := deltaNames(r)
	if !slices.Equal(slices.Sorted(maps.Keys(first)), []string{"c0", "c1", "c2"}) || len(r.RemovedResources) != 0 {
		t.Fatalf("first delta = %v removed %v", first, r.RemovedResources)
	}
	c.ack(r)
	c.expectNone()

	e.gen.set("default", cdsType, cluster("c0", 0), cluster("c1", 1), cluster("c2", 0))
	e.trigger()
	r = c.recv()
	got := deltaNames(r)
	if len(got) != 1 || got["c1"] == "" || got["c1"] == first["c1"] {
		t.Fatalf("delta after changing c1 = %v (before %v)", got, first)
	}
	c.ack(r)

	e.gen.set("default", cdsType, cluster("c0", 0), cluster("c1", 1))
	e.trigger()
	r = c.recv()
	if len(r.Resources) != 0 || !slices.Equal(r.RemovedResources, []string{"c2"}) {
		t.Fatalf("delta after removing c2: %v removed %v", deltaNames(r), r.RemovedResources)
	}
	c.ack(r)
	e.trigger()
	c.expectNone()
}

func TestDeltaEmptyWildcardIsAnswered(t *testing.T) {
	e := startEnv(t, true)
	c := e.delta("envoy-d", "")
	c.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: ldsType, ResourceNamesSubscribe: []string{"*"}})
	r := c.recv()
	if r.TypeUrl != ldsType || len(r.Resources) != 0 || len(r.RemovedResources) != 0 {
		t.Fatalf("want an empty LDS answer, got %v", r)
	}
}

func TestDeltaInitialResourceVersions(t *testing.T) {
	e := startEnv(t, true)
	e.gen.set("default", cdsType, clusters(3, 0)...)
	c := e.delta("envoy-d", "")
	c.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: cdsType, ResourceNamesSubscribe: []string{"*"}})
	r := c.recv()
	have := deltaNames(r)
	c.ack(r)
	c.cancel()

	// While disconnected: c1 changes, c2 is deleted, c3 is added.
	e.gen.set("default", cdsType, cluster("c0", 0), cluster("c1", 1), cluster("c3", 0))
	e.trigger()

	c2 := e.delta("envoy-d", "")
	c2.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: cdsType, InitialResourceVersions: have})
	r = c2.recv()
	got := slices.Sorted(maps.Keys(deltaNames(r)))
	if !slices.Equal(got, []string{"c1", "c3"}) || !slices.Equal(r.RemovedResources, []string{"c2"}) {
		t.Fatalf("reconnect: resources %v removed %v; want c1,c3 and removed c2", got, r.RemovedResources)
	}
	c2.ack(r)
	c2.expectNone()

	// Same versions on reconnect: nothing to send beyond the (empty) answer.
	now := deltaNames(r)
	now["c0"] = have["c0"]
	c3 := e.delta("envoy-d", "")
	c3.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: cdsType, InitialResourceVersions: now})
	r = c3.recv()
	if len(r.Resources) != 0 || len(r.RemovedResources) != 0 {
		t.Fatalf("up-to-date reconnect resent %v removed %v", deltaNames(r), r.RemovedResources)
	}
}

func TestDeltaExplicitSubscribeUnsubscribe(t *testing.T) {
	e := startEnv(t, true)
	e.gen.set("default", edsType, endpoints("a", 1), endpoints("b", 1))
	c := e.delta("envoy-d", "")
	c.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: edsType, ResourceNamesSubscribe: []string{"a", "missing"}})
	r := c.recv()
	if got := slices.Sorted(maps.Keys(deltaNames(r))); !slices.Equal(got, []string{"a"}) || !slices.Equal(r.RemovedResources, []string{"missing"}) {
		t.Fatalf("subscribe a,missing: %v removed %v", got, r.RemovedResources)
	}
	c.ack(r)

	// b is not subscribed: its change is not sent.
	e.gen.set("default", edsType, endpoints("a", 1), endpoints("b", 2))
	e.trigger()
	c.expectNone()

	// Unsubscribing needs no answer, and later changes of a are not sent.
	c.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: edsType, ResourceNamesUnsubscribe: []string{"a"}})
	c.expectNone()
	e.gen.set("default", edsType, endpoints("a", 2), endpoints("b", 2))
	e.trigger()
	c.expectNone()

	// Resubscribing sends a again; subscribing to a name the client already
	// has also resends it (the client may have forgotten it).
	c.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: edsType, ResourceNamesSubscribe: []string{"a"}})
	r = c.recv()
	if got := deltaNames(r); len(got) != 1 || got["a"] == "" {
		t.Fatalf("resubscribe a: %v", got)
	}
	c.ack(r)
	c.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: edsType, ResourceNamesSubscribe: []string{"a"}})
	if got := deltaNames(c.recv()); len(got) != 1 || got["a"] == "" {
		t.Fatalf("re-subscribe of a held name: %v", got)
	}

	// The missing resource springs into existence.
	e.gen.set("default", edsType, endpoints("a", 2), endpoints("b", 2), endpoints("missing", 1))
	e.trigger()
	if got := deltaNames(c.recv()); len(got) != 1 || got["missing"] == "" {
		t.Fatalf("created missing: %v", got)
	}
}

// With "*" and an explicit name, unsubscribing the name must be answered:
// the server says whether the wildcard still covers it.
func TestDeltaUnsubscribeUnderWildcardIsAnswered(t *testing.T) {
	e := startEnv(t, true)
	e.gen.set("default", cdsType, clusters(2, 0)...)
	c := e.delta("envoy-d", "")
	c.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: cdsType, ResourceNamesSubscribe: []string{"*", "c0", "gone"}})
	r := c.recv()
	c.ack(r)
	c.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: cdsType, ResourceNamesUnsubscribe: []string{"c0", "gone"}})
	r = c.recv()
	if got := deltaNames(r); len(got) != 1 || got["c0"] == "" || !slices.Equal(r.RemovedResources, []string{"gone"}) {
		t.Fatalf("unsubscribe under wildcard: %v removed %v", got, r.RemovedResources)
	}
}

func TestDeltaNackIsNotResent(t *testing.T) {
	e := startEnv(t, true)
	e.gen.set("default", cdsType, clusters(2, 0)...)
	c := e.delta("envoy-d", "")
	c.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: cdsType})
	c.ack(c.recv())

	e.gen.set("default", cdsType, cluster("c0", 9), cluster("c1", 0))
	e.trigger()
	bad := c.recv()
	c.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: cdsType, ResponseNonce: bad.Nonce,
		ErrorDetail: &rpcstatus.Status{Code: 3, Message: "delta says no"}})
	c.expectNone()
	e.trigger()
	c.expectNone()
	if got := e.counter(e.srv.metrics.nacks.WithLabelValues("Cluster")); got != 1 {
		t.Fatalf("nacks = %v", got)
	}
	if n := e.logs.count("delta says no"); n != 1 {
		t.Fatalf("NACK logged %d times", n)
	}

	e.gen.set("default", cdsType, cluster("c0", 10), cluster("c1", 0))
	e.trigger()
	if got := deltaNames(c.recv()); len(got) != 1 || got["c0"] == "" {
		t.Fatalf("after fix: %v", got)
	}
}

// Delta and SotW streams of one view receive the very same marshaled bytes.
func TestDeltaAndSotwShareResourceVersions(t *testing.T) {
	e := startEnv(t, true)
	e.gen.set("default", cdsType, clusters(2, 0)...)
	d := e.delta("d", "")
	d.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: cdsType})
	dr := d.recv()
	s := e.sotw("s", "")
	s.request(cdsType)
	sr := s.recv()
	for i, a := range sr.Resources {
		if string(a.Value) != string(dr.Resources[i].Resource.Value) {
			t.Fatalf("resource %d differs between SotW and delta", i)
		}
	}
}
