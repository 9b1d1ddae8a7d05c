package xds

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestProxiesOutOfDateFollowsAcksAndNacks(t *testing.T) {
	e := startEnv(t, true)
	collector := e.srv.metrics.outOfDate // NewServer binds it to its streams
	outOfDate := func() float64 { return testutil.ToFloat64(collector) }
	if err := testutil.GatherAndCompare(e.reg, strings.NewReader(`
# HELP loom_xds_proxies_out_of_date Connected ADS streams that do not run their view's current config: a newer snapshot is not sent to them yet, a response is not yet ACKed, or the last answer of a type was a NACK.
# TYPE loom_xds_proxies_out_of_date gauge
loom_xds_proxies_out_of_date 0
`), "loom_xds_proxies_out_of_date"); err != nil {
		t.Fatal(err)
	}

	e.gen.set("default", cdsType, cluster("c0", 1))
	e.trigger()
	c := e.sotw("node-1", "default")
	c.request(cdsType)
	first := c.recv()
	if got := outOfDate(); got != 1 {
		t.Fatalf("a stream with an unanswered response: %v out of date, want 1", got)
	}
	c.ack(first)
	waitFor(t, "the ACK to bring the stream up to date", func() bool { return outOfDate() == 0 })

	// A rejected version keeps the stream out of date: it runs the previous config.
	e.gen.set("default", cdsType, cluster("c0", 2))
	e.trigger()
	bad := c.recv()
	c.nack(bad, first.VersionInfo, "rejected on purpose")
	waitFor(t, "the NACK to count", func() bool { return e.counter(e.srv.metrics.nacks.WithLabelValues(typeLabel(cdsType))) == 1 })
	time.Sleep(quietWindow)
	if got := outOfDate(); got != 1 {
		t.Fatalf("after a NACK: %v out of date, want 1", got)
	}

	// A later version it accepts brings it back.
	e.gen.set("default", cdsType, cluster("c0", 3))
	e.trigger()
	good := c.recv()
	c.ack(good)
	waitFor(t, "the ACK after the NACK", func() bool { return outOfDate() == 0 })
}
