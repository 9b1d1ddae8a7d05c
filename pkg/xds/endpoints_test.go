package xds

import (
	"sync"
	"testing"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/proto"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
)

// endpointGen adds EndpointChanges to testGen: tests queue the assignments
// the next endpoint push builds.
type endpointGen struct {
	*testGen
	mu      sync.Mutex
	pending []types.Resource
	taken   int
}

func (g *endpointGen) queue(res ...types.Resource) {
	g.mu.Lock()
	g.pending = append(g.pending, res...)
	g.mu.Unlock()
}

func (g *endpointGen) EndpointChanges() func(string) ([]types.Resource, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.taken++
	list := g.pending
	g.pending = nil
	if len(list) == 0 {
		return nil
	}
	return func(string) ([]types.Resource, error) { return list, nil }
}

func withEndpointGen(out **endpointGen) envOpt {
	return func(o *Options) {
		eg := &endpointGen{testGen: o.Generator.(*testGen)}
		o.Generator = eg
		*out = eg
	}
}

// An endpoint push sends only the assignments whose bytes changed, and only
// those the view already has, to SotW and delta streams alike, without a
// Generate; the full push that follows finds nothing more to send.
func TestEndpointPushSendsOnlyChangedAssignments(t *testing.T) {
	var eg *endpointGen
	e := startEnv(t, true, withEndpointGen(&eg))
	e.gen.set("v", cdsType, cluster("c0", 0), cluster("c1", 0))
	e.gen.set("v", edsType, endpoints("c0", 1), endpoints("c1", 1))
	e.trigger()

	s := e.sotw("sotw", "v")
	s.request(edsType, "c0", "c1")
	s.ack(s.recv(), "c0", "c1")
	d := e.delta("delta", "v")
	d.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: edsType, ResourceNamesSubscribe: []string{"c0", "c1"}})
	d.ack(d.recv())
	calls := e.gen.callCount("v")

	eg.queue(endpoints("c0", 2), endpoints("c1", 1), endpoints("not-in-view", 1))
	e.srv.TriggerEndpoints()

	r := s.recv()
	if got := names(t, r); len(got) != 1 || got[0] != "c0" {
		t.Fatalf("SotW endpoint push sent %v, want [c0]", got)
	}
	var cla endpointv3.ClusterLoadAssignment
	if err := r.Resources[0].UnmarshalTo(&cla); err != nil || !proto.Equal(&cla, endpoints("c0", 2)) {
		t.Fatalf("SotW got %v (%v), want the new assignment", &cla, err)
	}
	s.ack(r, "c0", "c1")
	dr := d.recv()
	if got := deltaNames(dr); len(got) != 1 || got["c0"] == "" || len(dr.RemovedResources) != 0 {
		t.Fatalf("delta endpoint push sent %v, removed %v; want c0 only", got, dr.RemovedResources)
	}
	d.ack(dr)
	if got := e.gen.callCount("v"); got != calls {
		t.Fatalf("the endpoint push called Generate (%d calls, was %d)", got, calls)
	}

	// The full push agrees with what the endpoint push sent.
	e.gen.set("v", edsType, endpoints("c0", 2), endpoints("c1", 1))
	e.trigger()
	s.expectNone()
	d.expectNone()
}

// Nothing changed: no push, nothing sent.
func TestEndpointPushWithNothingChangedSendsNothing(t *testing.T) {
	var eg *endpointGen
	e := startEnv(t, true, withEndpointGen(&eg))
	e.gen.set("v", edsType, endpoints("c0", 1))
	e.trigger()
	s := e.sotw("sotw", "v")
	s.request(edsType, "c0")
	s.ack(s.recv(), "c0")

	eg.queue(endpoints("c0", 1))
	before := e.srv.pushCount.Load()
	e.srv.TriggerEndpoints()
	waitFor(t, "the endpoint changes taken", func() bool {
		eg.mu.Lock()
		defer eg.mu.Unlock()
		return eg.taken > 0
	})
	s.expectNone()
	if got := e.srv.pushCount.Load(); got != before+1 {
		t.Fatalf("push count %d, want %d (one endpoint push, publishing nothing)", got, before+1)
	}
}
