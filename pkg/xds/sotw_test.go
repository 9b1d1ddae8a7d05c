package xds

import (
	"slices"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestSotwWildcardClustersFullState(t *testing.T) {
	e := startEnv(t, true)
	e.gen.set("default", cdsType, clusters(3, 0)...)
	c := e.sotw("envoy-1", "")
	c.request(cdsType)
	r := c.recv()
	if got := names(t, r); !slices.Equal(got, []string{"c0", "c1", "c2"}) {
		t.Fatalf("first CDS response = %v", got)
	}
	c.ack(r)
	c.expectNone()

	// One cluster changes: LDS/CDS responses carry every resource.
	e.gen.set("default", cdsType, cluster("c0", 0), cluster("c1", 1), cluster("c2", 0))
	e.trigger()
	r2 := c.recv()
	if got := names(t, r2); !slices.Equal(got, []string{"c0", "c1", "c2"}) {
		t.Fatalf("CDS after change = %v", got)
	}
	if r2.VersionInfo == r.VersionInfo || r2.Nonce == r.Nonce {
		t.Fatalf("version/nonce not updated: %s/%s then %s/%s", r.VersionInfo, r.Nonce, r2.VersionInfo, r2.Nonce)
	}
	c.ack(r2)

	// Removal: absent from the next response.
	e.gen.set("default", cdsType, cluster("c0", 0), cluster("c2", 0))
	e.trigger()
	r3 := c.recv()
	if got := names(t, r3); !slices.Equal(got, []string{"c0", "c2"}) {
		t.Fatalf("CDS after removal = %v", got)
	}
	c.ack(r3)

	// A push that changes nothing sends nothing.
	e.trigger()
	c.expectNone()
}

func TestSotwEmptyWildcardIsAnswered(t *testing.T) {
	e := startEnv(t, true)
	c := e.sotw("envoy-1", "")
	c.request(ldsType)
	r := c.recv()
	if len(r.Resources) != 0 || r.TypeUrl != ldsType {
		t.Fatalf("want an empty LDS response, got %d resources of %s", len(r.Resources), r.TypeUrl)
	}
}

func TestSotwExplicitEndpointsOnlyChanges(t *testing.T) {
	e := startEnv(t, true)
	e.gen.set("default", edsType, endpoints("a", 1), endpoints("b", 1), endpoints("c", 1))
	c := e.sotw("envoy-1", "")
	c.request(edsType, "a", "b", "missing")
	r := c.recv()
	if got := names(t, r); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("EDS = %v, want requested names that exist", got)
	}
	c.ack(r, "a", "b", "missing")
	c.expectNone()

	// Only the changed assignment is sent.
	e.gen.set("default", edsType, endpoints("a", 2), endpoints("b", 1), endpoints("c", 1))
	e.trigger()
	r = c.recv()
	if got := names(t, r); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("EDS after change of a = %v", got)
	}
	c.ack(r, "a", "b", "missing")

	// A change to an unsubscribed resource sends nothing.
	e.gen.set("default", edsType, endpoints("a", 2), endpoints("b", 1), endpoints("c", 2))
	e.trigger()
	c.expectNone()

	// Subscribing to c sends just c.
	c.ack(r, "a", "b", "c", "missing")
	r = c.recv()
	if got := names(t, r); !slices.Equal(got, []string{"c"}) {
		t.Fatalf("EDS after subscribing c = %v", got)
	}
	c.ack(r, "a", "b", "c", "missing")

	// Unsubscribe b, then subscribe again: b is resent though unchanged.
	c.ack(r, "a", "c", "missing")
	c.expectNone()
	c.ack(r, "a", "b", "c", "missing")
	r = c.recv()
	if got := names(t, r); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("EDS after resubscribing b = %v", got)
	}
	c.ack(r, "a", "b", "c", "missing")

	// A missing resource that springs into existence is sent.
	e.gen.set("default", edsType, endpoints("a", 2), endpoints("b", 1), endpoints("c", 2), endpoints("missing", 1))
	e.trigger()
	r = c.recv()
	if got := names(t, r); !slices.Equal(got, []string{"missing"}) {
		t.Fatalf("EDS after creating missing = %v", got)
	}
}

// gRPC clients name their listeners; a listener that does not exist gets an
// empty LDS response (it is a full-state type) and is sent once it exists.
func TestSotwExplicitListenerLikeGRPC(t *testing.T) {
	e := startEnv(t, true)
	e.gen.set("default", ldsType, listener("other"))
	c := e.sotw("grpc-1", "")
	c.request(ldsType, "svc.ns:8080")
	r := c.recv()
	if len(r.Resources) != 0 {
		t.Fatalf("want empty LDS for a missing listener, got %v", names(t, r))
	}
	c.ack(r, "svc.ns:8080")
	e.gen.set("default", ldsType, listener("other"), listener("svc.ns:8080"))
	e.trigger()
	r = c.recv()
	if got := names(t, r); !slices.Equal(got, []string{"svc.ns:8080"}) {
		t.Fatalf("LDS = %v", got)
	}
	c.ack(r, "svc.ns:8080")

	// Adding a second name resends the full set of requested listeners.
	c.ack(r, "svc.ns:8080", "other")
	r = c.recv()
	if got := names(t, r); !slices.Equal(got, []string{"other", "svc.ns:8080"}) {
		t.Fatalf("LDS after adding other = %v", got)
	}
}

func TestSotwWildcardTransitions(t *testing.T) {
	e := startEnv(t, true)
	e.gen.set("default", cdsType, clusters(3, 0)...)
	c := e.sotw("n", "")
	c.request(cdsType) // legacy wildcard
	r := c.recv()
	c.ack(r)
	// "*" plus a name keeps the wildcard; the newly named resource is (re)sent
	// with the full state.
	c.ack(r, "*", "c1")
	r = c.recv()
	if got := names(t, r); !slices.Equal(got, []string{"c0", "c1", "c2"}) {
		t.Fatalf("after * + c1: %v", got)
	}
	// Only a name: wildcard dropped.
	c.ack(r, "c1")
	c.expectNone()
	e.gen.set("default", cdsType, cluster("c0", 1), cluster("c1", 0), cluster("c2", 0))
	e.trigger()
	c.expectNone() // c0 is no longer subscribed
	e.gen.set("default", cdsType, cluster("c0", 1), cluster("c1", 1), cluster("c2", 0))
	e.trigger()
	r = c.recv()
	if got := names(t, r); !slices.Equal(got, []string{"c1"}) {
		t.Fatalf("explicit c1 = %v", got)
	}
	// Empty after explicit names: unsubscribed from everything, not wildcard.
	c.ack(r)
	e.gen.set("default", cdsType, cluster("c0", 2), cluster("c1", 2), cluster("c2", 2))
	e.trigger()
	c.expectNone()
}

func TestSotwNackIsNotResent(t *testing.T) {
	e := startEnv(t, true)
	e.gen.set("default", cdsType, clusters(2, 0)...)
	c := e.sotw("envoy-nack", "")
	c.request(cdsType)
	good := c.recv()
	c.ack(good)

	e.gen.set("default", cdsType, cluster("c0", 5), cluster("c1", 0))
	e.trigger()
	bad := c.recv()
	c.nack(bad, good.VersionInfo, "bad cluster c0")
	// The rejected version is not resent, not even on an unrelated push.
	c.expectNone()
	e.trigger()
	c.expectNone()

	if got := e.counter(e.srv.metrics.nacks.WithLabelValues("Cluster")); got != 1 {
		t.Fatalf("nacks_total{type=Cluster} = %v, want 1", got)
	}
	if n := e.logs.count("bad cluster c0"); n != 1 {
		t.Fatalf("NACK logged %d times, want once", n)
	}
	p := e.srv.Proxies()
	if len(p) != 1 || p[0].Types[cdsType].LastNack == nil || p[0].Types[cdsType].LastNack.Error != "bad cluster c0" {
		t.Fatalf("syncz does not show the NACK: %+v", p)
	}
	if p[0].Types[cdsType].AckedVersion != good.VersionInfo {
		t.Fatalf("acked version = %s, want the last good %s", p[0].Types[cdsType].AckedVersion, good.VersionInfo)
	}

	// A real change is delivered.
	e.gen.set("default", cdsType, cluster("c0", 6), cluster("c1", 0))
	e.trigger()
	fixed := c.recv()
	if fixed.VersionInfo == bad.VersionInfo {
		t.Fatal("the fixed config has the rejected version")
	}
	c.ack(fixed)
	waitFor(t, "ACK recorded", func() bool {
		return e.srv.Proxies()[0].Types[cdsType].AckedVersion == fixed.VersionInfo
	})
}

// Two streams of one node rejecting the same version: counted twice, logged once.
func TestSotwNackLoggedOncePerNodeTypeVersion(t *testing.T) {
	e := startEnv(t, true)
	e.gen.set("default", cdsType, clusters(1, 0)...)
	a, b := e.sotw("grpc-1", ""), e.sotw("grpc-1", "")
	for _, c := range []*sotwClient{a, b} {
		c.request(cdsType)
		r := c.recv()
		c.nack(r, "", "rejected on purpose")
	}
	waitFor(t, "two NACKs", func() bool { return e.counter(e.srv.metrics.nacks.WithLabelValues("Cluster")) == 2 })
	if n := e.logs.count("rejected on purpose"); n != 1 {
		t.Fatalf("logged %d times, want 1", n)
	}
}

func TestSotwCustomTypeAndUnknownType(t *testing.T) {
	e := startEnv(t, true)
	ext := &corev3.TypedExtensionConfig{Name: "ext-1"}
	e.gen.set("default", resourcev3.ExtensionConfigType, ext)
	e.gen.set("default", cdsType, clusters(1, 0)...)
	c := e.sotw("n", "")
	c.request("type.googleapis.com/no.such.Type", "x")
	c.request(resourcev3.ExtensionConfigType, "ext-1")
	r := c.recv()
	if r.TypeUrl != resourcev3.ExtensionConfigType || !slices.Equal(names(t, r), []string{"ext-1"}) {
		t.Fatalf("custom type response: %s %v", r.TypeUrl, names(t, r))
	}
	c.request(cdsType)
	if r := c.recv(); r.TypeUrl != cdsType {
		t.Fatalf("stream did not keep serving after an unknown type: %s", r.TypeUrl)
	}
}

func TestSotwRejectsBadStreams(t *testing.T) {
	e := startEnv(t, true)

	c := e.sotw("", "")
	c.first = false // send no node
	c.request(cdsType)
	if code := status.Code(c.recvErr()); code != codes.InvalidArgument {
		t.Fatalf("no node: code %v", code)
	}

	c = e.sotw("bad-node-7", "")
	c.request(cdsType)
	err := c.recvErr()
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "bad-node-7") {
		t.Fatalf("view key error: %v", err)
	}

	c = e.sotw("n", "")
	c.request("")
	if code := status.Code(c.recvErr()); code != codes.InvalidArgument {
		t.Fatalf("empty type URL: code %v", code)
	}
}

// A changed EDS cluster makes Envoy wait for its assignment again, so the
// unchanged assignment is resent with it.
func TestSotwClusterChangeResendsItsEndpoints(t *testing.T) {
	e := startEnv(t, true)
	e.gen.set("default", cdsType, cluster("a", 0), cluster("b", 0))
	e.gen.set("default", edsType, endpoints("a", 1), endpoints("b", 1))
	c := e.sotw("envoy", "")
	c.request(cdsType)
	c.ack(c.recv())
	c.request(edsType, "a", "b")
	r := c.recv()
	c.ack(r, "a", "b")

	e.gen.set("default", cdsType, cluster("a", 1), cluster("b", 0))
	e.trigger()
	cds := c.recv()
	if cds.TypeUrl != cdsType {
		t.Fatalf("first response of the push is %s, want clusters first", cds.TypeUrl)
	}
	eds := c.recv()
	if eds.TypeUrl != edsType || !slices.Equal(names(t, eds), []string{"a"}) {
		t.Fatalf("EDS after cluster change: %s %v", eds.TypeUrl, names(t, eds))
	}
}
