package xds

import (
	"fmt"
	"testing"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
)

func TestWithholdSotw(t *testing.T) {
	rej := &rejection{version: "v2"}
	for _, tc := range []struct {
		name        string
		rej         *rejection
		client, cur string
		want        bool
	}{
		{"no earlier NACK", nil, "v1", "v2", false},
		{"holds an older accepted version", rej, "v1", "v2", true},
		{"holds nothing (a restarted proxy)", rej, "", "v2", false},
		{"accepted the version on another stream", rej, "v2", "v2", false},
		{"the config changed since", rej, "v1", "v3", false},
	} {
		if got := withholdSotw(tc.rej, tc.client, tc.cur); got != tc.want {
			t.Errorf("%s: withhold = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestWithheldDelta(t *testing.T) {
	rej := &rejection{resources: map[string]string{"a": "a2", "b": "b2", "c": "c2"}}
	current := map[string]string{"a": "a2", "b": "b3", "c": "c2"}
	got := withheldDelta(rej, map[string]string{"a": "a1", "c": "c2", "d": "d1"}, func(n string) string { return current[n] })
	// a: still at the rejected version, the client holds a1: withheld.
	// b: changed since: sent. c: the client has it: nothing to withhold.
	if len(got) != 1 || got["a"] != "a2" {
		t.Fatalf("withheld = %v, want only a at a2", got)
	}
	if got := withheldDelta(rej, nil, func(n string) string { return current[n] }); got != nil {
		t.Fatalf("a client holding nothing is sent everything; withheld %v", got)
	}
	if got := withheldDelta(nil, map[string]string{"a": "a1"}, func(n string) string { return current[n] }); got != nil {
		t.Fatalf("no earlier NACK; withheld %v", got)
	}
}

func TestRejectionsExpireAreClearedByAnotherVersionAndAreBounded(t *testing.T) {
	now := time.Now()
	r := newRejections(time.Minute)
	r.remember("n", cdsType, &rejection{version: "v2", at: now})
	if r.lookup("n", cdsType, now.Add(59*time.Second)) == nil {
		t.Fatal("forgotten within its time")
	}
	if r.lookup("n", cdsType, now.Add(time.Minute)) != nil {
		t.Fatal("remembered past its time")
	}
	r.acked("n", cdsType, "v2") // another stream of the node accepted the rejected version itself
	if r.lookup("n", cdsType, now) == nil {
		t.Fatal("an ACK of the rejected version by another stream cleared the rejection")
	}
	r.acked("n", cdsType, "v3")
	if r.lookup("n", cdsType, now) != nil || len(r.byNode) != 0 {
		t.Fatal("an ACK of a later version kept the rejection")
	}
	for i := range maxRememberedNodes + 10 {
		r.remember(fmt.Sprintf("node-%d", i), cdsType, &rejection{version: "v", at: now})
	}
	if n := len(r.byNode); n > maxRememberedNodes {
		t.Fatalf("%d nodes remembered, bound %d", n, maxRememberedNodes)
	}
}

// A proxy that NACKed a version and reconnects holding its older config is
// not sent the rejected version again, but gets every other type, and the
// whole type once it changes; a proxy that reconnects holding nothing gets
// the current config.
func TestSotwReconnectAfterNackIsNotResentTheRejectedVersion(t *testing.T) {
	e := startEnv(t, true)
	e.gen.set("default", cdsType, clusters(2, 0)...)
	e.gen.set("default", rdsType, route("r0", "c0"), route("r1", "c1"))
	c := e.sotw("envoy-r", "")
	c.request(cdsType)
	goodCDS := c.recv()
	c.ack(goodCDS)
	c.request(rdsType, "r0", "r1")
	goodRDS := c.recv()
	c.ack(goodRDS, "r0", "r1")

	e.gen.set("default", cdsType, cluster("c0", 5), cluster("c1", 0))
	e.gen.set("default", rdsType, route("r0", "c1"), route("r1", "c1"))
	e.trigger()
	badCDS, badRDS := c.recv(), c.recv()
	if badCDS.TypeUrl != cdsType || badRDS.TypeUrl != rdsType {
		t.Fatalf("responses %s, %s", badCDS.TypeUrl, badRDS.TypeUrl)
	}
	c.nack(badCDS, goodCDS.VersionInfo, "bad cluster c0")
	c.nack(badRDS, goodRDS.VersionInfo, "bad route r0", "r0", "r1")
	waitFor(t, "the NACKs", func() bool { return e.counter(e.srv.metrics.nacks.WithLabelValues("RouteConfiguration")) == 1 })
	c.cancel()
	e.waitStreams(0)

	// Reconnect, as Envoy does: the first request of each type carries the
	// last version it accepted.
	e.gen.set("default", ldsType, listener("l0"))
	e.trigger()
	r := e.sotw("envoy-r", "")
	r.send(&discoveryv3.DiscoveryRequest{TypeUrl: cdsType, VersionInfo: goodCDS.VersionInfo})
	r.send(&discoveryv3.DiscoveryRequest{TypeUrl: rdsType, VersionInfo: goodRDS.VersionInfo, ResourceNames: []string{"r0", "r1"}})
	r.send(&discoveryv3.DiscoveryRequest{TypeUrl: ldsType})
	if lds := r.recv(); lds.TypeUrl != ldsType {
		t.Fatalf("got %s (version %s), want only the listeners: the rejected versions are not resent", lds.TypeUrl, lds.VersionInfo)
	}
	r.expectNone()
	p := e.srv.Proxies()
	if len(p) != 1 || p[0].Types[cdsType].LastNack == nil || p[0].Types[cdsType].LastNack.Version != badCDS.VersionInfo {
		t.Fatalf("syncz does not show the remembered NACK on the new stream: %+v", p)
	}

	// A restarted proxy (no accepted version) of the same node gets the current config.
	fresh := e.sotw("envoy-r", "")
	fresh.request(cdsType)
	if got := fresh.recv(); got.VersionInfo != badCDS.VersionInfo {
		t.Fatalf("a proxy holding nothing got version %s, want the current %s", got.VersionInfo, badCDS.VersionInfo)
	}

	// Once a type changes, the reconnected proxy gets all of it: it holds
	// the config from before the rejected version.
	e.gen.set("default", rdsType, route("r0", "c0"), route("r1", "c1"))
	e.trigger()
	fixed := r.recv()
	if fixed.TypeUrl != rdsType || fmt.Sprint(names(t, fixed)) != "[r0 r1]" {
		t.Fatalf("after the fix: %s %v, want every subscribed route", fixed.TypeUrl, names(t, fixed))
	}
	r.expectNone() // CDS is still at the rejected version
}

func TestDeltaReconnectAfterNackIsNotResentTheRejectedResources(t *testing.T) {
	e := startEnv(t, true)
	e.gen.set("default", cdsType, clusters(2, 0)...)
	c := e.delta("envoy-dr", "")
	c.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: cdsType})
	first := c.recv()
	c.ack(first)
	held := deltaNames(first)

	e.gen.set("default", cdsType, cluster("c0", 9), cluster("c1", 0))
	e.trigger()
	bad := c.recv()
	c.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: cdsType, ResponseNonce: bad.Nonce,
		ErrorDetail: &rpcstatus.Status{Code: 3, Message: "bad cluster c0"}})
	waitFor(t, "the NACK", func() bool { return e.counter(e.srv.metrics.nacks.WithLabelValues("Cluster")) == 1 })
	c.cancel()
	e.waitStreams(0)

	// While it was away c1 changed too; c0 is still at the rejected version.
	e.gen.set("default", cdsType, cluster("c0", 9), cluster("c1", 3))
	e.trigger()
	r := e.delta("envoy-dr", "")
	r.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: cdsType, InitialResourceVersions: held})
	got := deltaNames(r.recv())
	if len(got) != 1 || got["c1"] == "" {
		t.Fatalf("reconnected proxy got %v, want only c1 (c0 is the version it rejected)", got)
	}
	r.expectNone()

	fresh := e.delta("envoy-dr", "")
	fresh.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: cdsType})
	if got := deltaNames(fresh.recv()); len(got) != 2 || got["c0"] != deltaNames(bad)["c0"] {
		t.Fatalf("a proxy holding nothing got %v, want both clusters at their current versions", got)
	}

	e.gen.set("default", cdsType, cluster("c0", 10), cluster("c1", 3))
	e.trigger()
	if got := deltaNames(r.recv()); len(got) != 1 || got["c0"] == "" {
		t.Fatalf("after the fix: %v, want c0", got)
	}
}

// A reconnected proxy that asks for a resource it never had ends the
// withholding: it is sent everything it subscribes to.
func TestSotwWithholdingEndsWhenTheSubscriptionGrows(t *testing.T) {
	e := startEnv(t, true)
	e.gen.set("default", rdsType, route("r0", "c0"), route("r1", "c1"), route("r2", "c2"))
	c := e.sotw("envoy-s", "")
	c.request(rdsType, "r0", "r1")
	good := c.recv()
	c.ack(good, "r0", "r1")
	e.gen.set("default", rdsType, route("r0", "c1"), route("r1", "c1"), route("r2", "c2"))
	e.trigger()
	bad := c.recv()
	c.nack(bad, good.VersionInfo, "bad route r0", "r0", "r1")
	waitFor(t, "the NACK", func() bool { return e.counter(e.srv.metrics.nacks.WithLabelValues("RouteConfiguration")) == 1 })
	c.cancel()
	e.waitStreams(0)

	r := e.sotw("envoy-s", "")
	r.send(&discoveryv3.DiscoveryRequest{TypeUrl: rdsType, VersionInfo: good.VersionInfo, ResourceNames: []string{"r0", "r1"}})
	r.expectNone()
	r.send(&discoveryv3.DiscoveryRequest{TypeUrl: rdsType, VersionInfo: good.VersionInfo, ResourceNames: []string{"r0", "r1", "r2"}})
	if got := r.recv(); fmt.Sprint(names(t, got)) != "[r0 r1 r2]" || got.VersionInfo != bad.VersionInfo {
		t.Fatalf("after subscribing to r2: %v at %s, want r0 r1 r2 at %s", names(t, got), got.VersionInfo, bad.VersionInfo)
	}
}
