package xds

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Many proxies of one view: one Generate and one marshal per resource per
// push, and every stream gets the same Any objects (same backing bytes).
func TestOneGenerateAndMarshalPerViewPerPush(t *testing.T) {
	e := startEnv(t, true)
	e.gen.set("shared", cdsType, clusters(5, 0)...)
	e.gen.set("shared", edsType, endpoints("c0", 1), endpoints("c1", 1))
	const n = 20
	clients := make([]*sotwClient, n)
	for i := range clients {
		clients[i] = e.sotw(fmt.Sprintf("envoy-%d", i), "shared")
		clients[i].request(cdsType)
	}
	for _, c := range clients {
		c.ack(c.recv())
	}
	if got := e.gen.callCount("shared"); got != 1 {
		t.Fatalf("Generate called %d times for %d proxies, want 1", got, n)
	}
	if got := e.srv.marshalCount.Load(); got != 7 {
		t.Fatalf("marshaled %d times, want 7 (once per resource)", got)
	}

	// In-process streams expose the response objects themselves.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := serveFakeSotw(ctx, e.srv, false), serveFakeSotw(ctx, e.srv, false)
	d := serveFakeDelta(ctx, e.srv, false)
	node := &corev3.Node{Id: "fake", Cluster: "shared"}
	a.reqs <- &discoveryv3.DiscoveryRequest{Node: node, TypeUrl: cdsType}
	b.reqs <- &discoveryv3.DiscoveryRequest{Node: node, TypeUrl: cdsType}
	d.reqs <- &discoveryv3.DeltaDiscoveryRequest{Node: node, TypeUrl: cdsType}
	ra, rb, rd := recvFake(t, a.resps), recvFake(t, b.resps), recvFake(t, d.resps)
	if len(ra.Resources) != 5 || len(rd.Resources) != 5 {
		t.Fatalf("got %d SotW and %d delta resources, want 5", len(ra.Resources), len(rd.Resources))
	}
	for i := range ra.Resources {
		if ra.Resources[i] != rb.Resources[i] || &ra.Resources[i].Value[0] != &rb.Resources[i].Value[0] {
			t.Fatalf("resource %d is a different object for two proxies", i)
		}
		if rd.Resources[i].Resource != ra.Resources[i] {
			t.Fatalf("resource %d: delta and SotW do not share the Any", i)
		}
	}
	if got := e.gen.callCount("shared"); got != 1 {
		t.Fatalf("new streams of an existing view regenerated it (%d calls)", got)
	}

	// A push regenerates the view once and marshals each resource once more.
	e.gen.set("shared", cdsType, cluster("c0", 1), cluster("c1", 0), cluster("c2", 0), cluster("c3", 0), cluster("c4", 0))
	e.trigger()
	for _, c := range clients {
		if got := names(t, c.recv()); len(got) != 5 {
			t.Fatalf("full-state CDS after change has %d clusters", len(got))
		}
	}
	if got := e.gen.callCount("shared"); got != 2 {
		t.Fatalf("Generate calls after one push = %d, want 2", got)
	}
	if got := e.srv.marshalCount.Load(); got != 14 {
		t.Fatalf("marshal count after one push = %d, want 14", got)
	}
}

func recvFake[T any](t *testing.T, ch chan *T) *T {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(failAfter):
		t.Fatal("timed out waiting for an in-process response")
	}
	return nil
}

// The same message returned by two views is marshaled once per push.
func TestMessageSharedByViewsMarshaledOnce(t *testing.T) {
	e := startEnv(t, true)
	shared := cluster("common", 0)
	e.gen.set("v1", cdsType, shared, cluster("only-v1", 0))
	e.gen.set("v2", cdsType, shared)
	c1, c2 := e.sotw("a", "v1"), e.sotw("b", "v2")
	c1.request(cdsType)
	c1.recv()
	c2.request(cdsType)
	c2.recv()
	before := e.srv.marshalCount.Load()
	e.trigger()
	if got := e.srv.marshalCount.Load() - before; got != 2 {
		t.Fatalf("push of two views sharing a message marshaled %d times, want 2", got)
	}
}

func TestDebounceCoalescesBurst(t *testing.T) {
	e := startEnv(t, true, func(o *Options) {
		o.DebounceQuiet = 2 * time.Second
		o.DebounceMax = time.Minute
	})
	c := e.sotw("n", "")
	c.request(cdsType)
	c.recv()
	pushes, gens := e.srv.pushCount.Load(), e.gen.callCount("default")
	for range 500 {
		e.srv.Trigger()
	}
	waitFor(t, "the debounced push", func() bool { return e.srv.pushCount.Load() > pushes })
	// Nothing triggers any more; wait past the quiet period to see that the
	// burst caused exactly one push.
	time.Sleep(3 * time.Second)
	if got := e.srv.pushCount.Load() - pushes; got != 1 {
		t.Fatalf("500 triggers caused %d pushes, want 1", got)
	}
	if got := e.gen.callCount("default") - gens; got != 1 {
		t.Fatalf("500 triggers caused %d Generate calls, want 1", got)
	}
}

// Triggers that never stop (more often than DebounceQuiet) still push once
// DebounceMax has passed.
func TestDebounceMaxBoundsContinuousTriggers(t *testing.T) {
	e := startEnv(t, true, func(o *Options) {
		o.DebounceQuiet = time.Hour
		o.DebounceMax = 50 * time.Millisecond
	})
	c := e.sotw("n", "")
	c.request(cdsType)
	c.recv()
	pushes := e.srv.pushCount.Load()
	deadline := time.Now().Add(failAfter)
	for e.srv.pushCount.Load() == pushes {
		if time.Now().After(deadline) {
			t.Fatal("continuous triggers never pushed")
		}
		e.srv.Trigger()
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNothingBeforeSetReady(t *testing.T) {
	e := startEnv(t, false)
	e.gen.set("default", cdsType, clusters(3, 0)...)
	e.gen.set("default", ldsType, listener("l0"))
	c := e.sotw("early", "")
	c.request(cdsType)
	c.request(ldsType)
	e.srv.Trigger()
	e.srv.Trigger()
	c.expectNone()
	if got := e.gen.callCount("default"); got != 0 {
		t.Fatalf("Generate called %d times before SetReady", got)
	}
	if got := e.srv.pushCount.Load(); got != 0 {
		t.Fatalf("%d pushes before SetReady", got)
	}
	d := e.delta("early-delta", "")
	d.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: cdsType})
	d.expectNone()

	e.srv.SetReady()
	cds, lds := c.recv(), c.recv()
	if cds.TypeUrl != cdsType || len(cds.Resources) != 3 || lds.TypeUrl != ldsType || len(lds.Resources) != 1 {
		t.Fatalf("after SetReady: %s/%d then %s/%d", cds.TypeUrl, len(cds.Resources), lds.TypeUrl, len(lds.Resources))
	}
	if r := d.recv(); len(r.Resources) != 3 {
		t.Fatalf("delta after SetReady: %d resources", len(r.Resources))
	}
	waitFor(t, "ready push", func() bool { return e.srv.pushCount.Load() == 1 })
	if r := e.srv.PushStatus(); r.Reason != "ready" {
		t.Fatalf("first push reason = %q", r.Reason)
	}
	// The triggers before SetReady were covered by the ready push.
	c.expectNone()
	if got := e.srv.pushCount.Load(); got != 1 {
		t.Fatalf("pushes = %d, want only the ready push", got)
	}
}

func TestGenerateErrorKeepsLastGood(t *testing.T) {
	e := startEnv(t, true)
	e.gen.set("default", cdsType, clusters(2, 0)...)
	c := e.sotw("n", "")
	c.request(cdsType)
	good := c.recv()
	c.ack(good)

	e.gen.setErr(errors.New("model not consistent"))
	e.gen.set("default", cdsType, clusters(1, 3)...)
	e.trigger()
	c.expectNone()
	if got := testutil.ToFloat64(e.srv.metrics.generateErrors); got != 1 {
		t.Fatalf("generate errors = %v", got)
	}
	// A new proxy of the view still gets the last good resources.
	c2 := e.sotw("n2", "")
	c2.request(cdsType)
	if got := names(t, c2.recv()); len(got) != 2 {
		t.Fatalf("new proxy got %v, want the last good 2 clusters", got)
	}

	e.gen.setErr(nil)
	e.trigger()
	if got := names(t, c.recv()); len(got) != 1 {
		t.Fatalf("after recovery: %v", got)
	}
}

func TestGeneratorPanicIsAnError(t *testing.T) {
	e := startEnv(t, true)
	e.gen.mu.Lock()
	e.gen.panicMsg = "boom"
	e.gen.mu.Unlock()
	c := e.sotw("n", "")
	c.request(cdsType)
	waitFor(t, "generate error counted", func() bool { return testutil.ToFloat64(e.srv.metrics.generateErrors) >= 1 })
	e.gen.mu.Lock()
	e.gen.panicMsg = ""
	e.gen.mu.Unlock()
	e.gen.set("default", cdsType, clusters(1, 0)...)
	// The first Generate of the view failed, so it is retried without a Trigger.
	if got := names(t, c.recv()); len(got) != 1 {
		t.Fatalf("after the generator recovered: %v", got)
	}
}

func TestInvalidResourcesAreSkipped(t *testing.T) {
	e := startEnv(t, true)
	var nilCluster types.Resource
	e.gen.set("default", cdsType,
		cluster("ok", 0),
		nilCluster,
		cluster("", 0),              // no name
		listener("wrong-type"),      // a Listener under the Cluster type URL
		cluster("ok", 1),            // duplicate name
		&corev3.Node{Id: "no-name"}, // no name accessor
	)
	c := e.sotw("n", "")
	c.request(cdsType)
	if got := names(t, c.recv()); len(got) != 1 || got[0] != "ok" {
		t.Fatalf("served %v, want only ok", got)
	}
	if got := testutil.ToFloat64(e.srv.metrics.invalid); got != 5 {
		t.Fatalf("invalid resources = %v, want 5", got)
	}
}

func TestConvergenceMeasured(t *testing.T) {
	e := startEnv(t, true)
	e.gen.set("default", cdsType, clusters(2, 0)...)
	a, b := e.sotw("a", ""), e.sotw("b", "")
	for _, c := range []*sotwClient{a, b} {
		c.request(cdsType)
		c.ack(c.recv())
	}
	e.gen.set("default", cdsType, clusters(2, 1)...)
	e.trigger()
	ra := a.recv()
	rb := b.recv()
	a.ack(ra)
	// One stream has not answered: not converged yet.
	a.expectNone()
	if st := e.srv.PushStatus(); st.Converged {
		t.Fatalf("converged before every stream ACKed: %+v", st)
	}
	b.ack(rb)
	waitFor(t, "convergence", func() bool { return e.srv.PushStatus().Converged })
	st := e.srv.PushStatus()
	if st.ConvergenceResult != "acked" || st.Responses != 2 || st.ConvergenceSeconds <= 0 {
		t.Fatalf("push status = %+v", st)
	}
	if n := testutil.CollectAndCount(e.srv.metrics.convergence); n != 1 {
		t.Fatalf("convergence series = %d", n)
	}

	e.gen.set("default", cdsType, clusters(2, 2)...)
	e.trigger()
	a.ack(a.recv())
	b.nack(b.recv(), rb.VersionInfo, "no")
	waitFor(t, "convergence with a NACK", func() bool { return e.srv.PushStatus().Converged })
	if st := e.srv.PushStatus(); st.ConvergenceResult != "nacked" {
		t.Fatalf("result = %q, want nacked", st.ConvergenceResult)
	}
}

// The debounce windows as shipped (100 ms quiet, 1 s at most): a burst is one
// push, and triggers that never pause for the quiet period still push.
func TestDebounceDefaultsAsShipped(t *testing.T) {
	e := startEnv(t, true, func(o *Options) {
		o.DebounceQuiet, o.DebounceMax = 0, 0 // the defaults
	})
	if e.srv.full.quiet != 100*time.Millisecond || e.srv.full.max != time.Second {
		t.Fatalf("shipped debounce: quiet %s, max %s; want 100ms and 1s", e.srv.full.quiet, e.srv.full.max)
	}
	c := e.sotw("n", "")
	c.request(cdsType)
	c.recv()
	pushes := e.srv.pushCount.Load()
	for range 500 {
		e.srv.Trigger()
	}
	waitFor(t, "the debounced push", func() bool { return e.srv.pushCount.Load() > pushes })
	// Longer than the debounce maximum: a second push would have happened by now.
	time.Sleep(2500 * time.Millisecond)
	if got := e.srv.pushCount.Load() - pushes; got != 1 {
		t.Fatalf("a burst of 500 triggers caused %d pushes, want 1", got)
	}

	pushes = e.srv.pushCount.Load()
	deadline := time.Now().Add(failAfter)
	for e.srv.pushCount.Load() == pushes {
		if time.Now().After(deadline) {
			t.Fatal("triggers every 20 ms (never quiet for 100 ms) never pushed")
		}
		e.srv.Trigger()
		time.Sleep(20 * time.Millisecond)
	}
}
