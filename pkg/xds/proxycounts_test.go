package xds

import "testing"

func TestCountsAreProxiesNotStreams(t *testing.T) {
	e := startEnv(t, true)
	e.gen.set("default", cdsType, cluster("c0", 1))
	e.trigger()
	if got := e.srv.Counts(); got != (ProxyCounts{}) {
		t.Fatalf("no streams: %+v", got)
	}
	a1, a2, b := e.sotw("node-a", "default"), e.sotw("node-a", "default"), e.sotw("node-b", "default")
	for _, c := range []*sotwClient{a1, a2, b} {
		c.request(cdsType)
	}
	fromA1, fromA2, fromB := a1.recv(), a2.recv(), b.recv()
	waitFor(t, "two proxies, both with a response unanswered", func() bool {
		return e.srv.Counts() == ProxyCounts{Connected: 2, OutOfDate: 2}
	})
	a1.ack(fromA1)
	b.ack(fromB)
	// node-a still has a stream that has not ACKed: the proxy is out of date.
	waitFor(t, "node-b up to date, node-a not", func() bool {
		return e.srv.Counts() == ProxyCounts{Connected: 2, OutOfDate: 1}
	})
	a2.ack(fromA2)
	waitFor(t, "both up to date", func() bool {
		return e.srv.Counts() == ProxyCounts{Connected: 2, OutOfDate: 0}
	})
}
