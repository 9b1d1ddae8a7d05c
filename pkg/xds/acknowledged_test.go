package xds

import (
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
)

// TestAcknowledgedCountsOnlyWhatClientsApplied: a stream counts as acknowledging once it
// ACKs a response whose resources all pass the check; a sent, unanswered response, a NACK
// and a stream of another type do not.
func TestAcknowledgedCountsOnlyWhatClientsApplied(t *testing.T) {
	e := startEnv(t, true)
	e.gen.set("default", cdsType, cluster("c0", 1))
	e.trigger()
	isC1 := func(r types.Resource) bool { return r.(*clusterv3.Cluster).GetName() == "c1" }
	count := func() [2]int { a, s := e.srv.Acknowledged(cdsType, isC1); return [2]int{a, s} }
	if got := count(); got != [2]int{0, 0} {
		t.Fatalf("no streams: acked, subscribed = %v", got)
	}
	a, b := e.sotw("node-a", "default"), e.sotw("node-b", "default")
	other := e.sotw("node-c", "default")
	a.request(cdsType)
	b.request(cdsType)
	other.request(edsType)
	fromA, fromB := a.recv(), b.recv()
	waitFor(t, "two subscribers, none acknowledging", func() bool { return count() == [2]int{0, 2} })
	a.ack(fromA)
	b.ack(fromB)
	waitFor(t, "both ACKed c0, which does not pass", func() bool { return count() == [2]int{0, 2} })

	e.gen.set("default", cdsType, cluster("c1", 1))
	e.trigger()
	accepted := fromB.GetVersionInfo()
	fromA, fromB = a.recv(), b.recv()
	a.ack(fromA)
	b.nack(fromB, accepted, "no")
	waitFor(t, "node-a ACKed c1; node-b NACKed it", func() bool { return count() == [2]int{1, 2} })
}

type auxiliaryGen struct{ *testGen }

func (auxiliaryGen) Auxiliary(viewKey string) bool { return viewKey == "aux" }

// TestAuxiliaryViewsServeButAreNoProxies: a stream of an auxiliary view gets its resources
// and its ACKs count for Acknowledged, but it is not a proxy in Counts or Convergence.
func TestAuxiliaryViewsServeButAreNoProxies(t *testing.T) {
	e := startEnv(t, true, func(o *Options) { o.Generator = auxiliaryGen{o.Generator.(*testGen)} })
	e.gen.set("default", cdsType, cluster("c1", 1))
	e.gen.set("aux", cdsType, cluster("c1", 1))
	e.trigger()
	proxy, agent := e.sotw("node-a", "default"), e.sotw("node-a-agent", "aux")
	proxy.request(cdsType)
	agent.request(cdsType)
	proxy.ack(proxy.recv())
	agent.ack(agent.recv())
	isC1 := func(r types.Resource) bool { return r.(*clusterv3.Cluster).GetName() == "c1" }
	waitFor(t, "both streams acknowledge c1", func() bool { a, s := e.srv.Acknowledged(cdsType, isC1); return a == 2 && s == 2 })
	if got := e.srv.Counts(); got != (ProxyCounts{Connected: 1}) {
		t.Fatalf("Counts = %+v, want the one proxy only", got)
	}
	if got := e.srv.Convergence(); len(got) != 1 || got[0].NodeID != "node-a" {
		t.Fatalf("Convergence = %+v, want node-a only", got)
	}
}
