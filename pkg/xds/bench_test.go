package xds

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/go-logr/logr"
)

const benchServices = 1000

// benchGen serves the same resources to every view: benchServices clusters,
// their endpoints and one route configuration each.
type benchGen struct {
	mu    sync.Mutex
	res   map[string][]types.Resource
	quick []types.Resource // what the next endpoint push builds
}

func (g *benchGen) EndpointChanges() func(string) ([]types.Resource, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	list := g.quick
	g.quick = nil
	if list == nil {
		return nil
	}
	return func(string) ([]types.Resource, error) { return list, nil }
}

func (g *benchGen) ViewKey(*corev3.Node) (string, error) { return "bench", nil }

func (g *benchGen) Generate(string) (map[string][]types.Resource, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.res, nil
}

func benchResources(version int, endpointOf func(i int) uint32) map[string][]types.Resource {
	res := map[string][]types.Resource{}
	for i := range benchServices {
		name := fmt.Sprintf("outbound|8080||svc-%d.ns.svc.cluster.local", i)
		res[cdsType] = append(res[cdsType], cluster(name, version))
		res[edsType] = append(res[edsType], endpoints(name, endpointOf(i)))
		rc := route(fmt.Sprintf("svc-%d.ns:8080", i), name)
		rc.VirtualHosts[0].Domains = append(rc.VirtualHosts[0].Domains, fmt.Sprintf("svc-%d.v%d", i, version))
		res[rdsType] = append(res[rdsType], rc)
	}
	return res
}

func benchNames(res map[string][]types.Resource, typeURL string) []string {
	var out []string
	for _, r := range res[typeURL] {
		out = append(out, nameOf(r))
	}
	return out
}

// BenchmarkPush measures one push end to end: generate and marshal the view,
// diff it, and deliver the changes to every stream (responses serialized as
// gRPC would), until each stream has received its responses. Streams are
// in-process and share one view; each subscribes to all clusters (wildcard),
// endpoints and routes (by name) and ACKs every response. one_endpoint_quick
// is the same change through the endpoint push (no Generate).
func BenchmarkPush(b *testing.B) {
	for _, streams := range []int{100, 1000} {
		for _, change := range []string{"one_endpoint", "one_endpoint_quick", "all"} {
			b.Run(fmt.Sprintf("streams=%d/change=%s", streams, change), func(b *testing.B) {
				benchPush(b, streams, change)
			})
		}
	}
}

func benchPush(b *testing.B, streams int, change string) {
	gen := &benchGen{res: benchResources(0, func(int) uint32 { return 80 })}
	edsNames, rdsNames := benchNames(gen.res, edsType), benchNames(gen.res, rdsType)
	srv := NewServer(Options{Generator: gen, Logger: logr.Discard()})
	srv.ready.Store(true) // pushes are driven by the benchmark, not by Start

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan struct{}, streams*4)
	var responses atomic.Int64
	for i := range streams {
		f := serveFakeSotw(ctx, srv, true)
		node := &corev3.Node{Id: fmt.Sprintf("sidecar-%d", i)}
		f.reqs <- &discoveryv3.DiscoveryRequest{Node: node, TypeUrl: cdsType}
		f.reqs <- &discoveryv3.DiscoveryRequest{TypeUrl: edsType, ResourceNames: edsNames}
		f.reqs <- &discoveryv3.DiscoveryRequest{TypeUrl: rdsType, ResourceNames: rdsNames}
		go func() {
			for {
				select {
				case r := <-f.resps:
					responses.Add(1)
					got <- struct{}{}
					ack := benchACK(r, edsNames, rdsNames)
					select {
					case f.reqs <- ack:
					case <-ctx.Done():
						return
					}
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	waitStreams := func(n int) {
		deadline := time.After(time.Minute)
		for range n {
			select {
			case <-got:
			case <-deadline:
				b.Fatalf("timed out waiting for %d responses", n)
			}
		}
	}
	deadline := time.Now().Add(time.Minute)
	for srv.streamCountForBench() < streams {
		if time.Now().After(deadline) {
			b.Fatal("streams did not connect")
		}
		time.Sleep(time.Millisecond)
	}
	srv.pushNew()
	waitStreams(streams * 3) // initial CDS, EDS and RDS

	perPush := 1
	if change == "all" {
		perPush = 3
	}
	responses.Store(0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		gen.mu.Lock()
		if change == "one_endpoint_quick" {
			name := fmt.Sprintf("outbound|8080||svc-%d.ns.svc.cluster.local", i%benchServices)
			gen.quick = []types.Resource{endpoints(name, uint32(1000+i))}
			gen.mu.Unlock()
			srv.pushEndpoints(time.Now())
			waitStreams(streams)
			continue
		}
		if change == "all" {
			gen.res = benchResources(i+1, func(int) uint32 { return uint32(1000 + i) })
		} else {
			gen.res = benchResources(0, func(j int) uint32 {
				if j == i%benchServices {
					return uint32(1000 + i)
				}
				return 80
			})
		}
		gen.mu.Unlock()
		srv.pushAll("trigger", time.Now())
		waitStreams(streams * perPush)
	}
	b.StopTimer()
	b.ReportMetric(float64(responses.Load())/float64(b.N), "responses/op")
}

// streamCountForBench counts connected streams.
func (s *Server) streamCountForBench() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.streams)
}

// BenchmarkMarshalView measures building one view's snapshot (marshal and
// hash of benchServices clusters, endpoints and routes), the work done once
// per view per push however many proxies share it.
func BenchmarkMarshalView(b *testing.B) {
	res := benchResources(0, func(int) uint32 { return 80 })
	var count atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		snap, problems := buildSnapshot(res, nil, newMarshaler(&count))
		if len(problems) != 0 || snap.types[cdsType].len() != benchServices {
			b.Fatal("bad snapshot")
		}
	}
}

// BenchmarkDiffView measures diffing two snapshots of that size with one
// changed endpoint (done once per view per push).
func BenchmarkDiffView(b *testing.B) {
	var count atomic.Int64
	old, _ := buildSnapshot(benchResources(0, func(int) uint32 { return 80 }), nil, newMarshaler(&count))
	cur, _ := buildSnapshot(benchResources(0, func(i int) uint32 {
		if i == 7 {
			return 81
		}
		return 80
	}), old, newMarshaler(&count))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if d := diffSnapshots(old, cur); len(d[edsType].changed) != 1 {
			b.Fatal("bad diff")
		}
	}
}

// BenchmarkColdSync measures the server's side of 100 proxies of one view
// connecting and getting their whole config: their requests (every cluster
// wildcard, every endpoint and route by name), the responses built (not
// encoded: in-process streams), and the ACKs, until each has its three; over
// SotW and over delta.
func BenchmarkColdSync(b *testing.B) {
	gen := &benchGen{res: benchResources(0, func(int) uint32 { return 80 })}
	edsNames, rdsNames := benchNames(gen.res, edsType), benchNames(gen.res, rdsType)
	sotw := func(ctx context.Context, srv *Server, id int, done chan<- struct{}) {
		f := serveFakeSotw(ctx, srv, false)
		f.reqs <- &discoveryv3.DiscoveryRequest{Node: &corev3.Node{Id: fmt.Sprintf("sidecar-%d", id)}, TypeUrl: cdsType}
		f.reqs <- &discoveryv3.DiscoveryRequest{TypeUrl: edsType, ResourceNames: edsNames}
		f.reqs <- &discoveryv3.DiscoveryRequest{TypeUrl: rdsType, ResourceNames: rdsNames}
		answer(ctx, f.resps, f.reqs, func(r *discoveryv3.DiscoveryResponse) *discoveryv3.DiscoveryRequest {
			return benchACK(r, edsNames, rdsNames)
		}, done)
	}
	delta := func(ctx context.Context, srv *Server, id int, done chan<- struct{}) {
		f := serveFakeDelta(ctx, srv, false)
		f.reqs <- &discoveryv3.DeltaDiscoveryRequest{Node: &corev3.Node{Id: fmt.Sprintf("sidecar-%d", id)}, TypeUrl: cdsType}
		f.reqs <- &discoveryv3.DeltaDiscoveryRequest{TypeUrl: edsType, ResourceNamesSubscribe: edsNames}
		f.reqs <- &discoveryv3.DeltaDiscoveryRequest{TypeUrl: rdsType, ResourceNamesSubscribe: rdsNames}
		answer(ctx, f.resps, f.reqs, func(r *discoveryv3.DeltaDiscoveryResponse) *discoveryv3.DeltaDiscoveryRequest {
			return &discoveryv3.DeltaDiscoveryRequest{TypeUrl: r.TypeUrl, ResponseNonce: r.Nonce}
		}, done)
	}
	for _, v := range []struct {
		name    string
		connect func(context.Context, *Server, int, chan<- struct{})
	}{{"sotw", sotw}, {"delta", delta}} {
		b.Run(v.name, func(b *testing.B) { benchColdSync(b, gen, v.connect) })
	}
}

// answer ACKs a benchmark proxy's first three responses, then reports it done.
func answer[Req, Resp any](ctx context.Context, resps <-chan *Resp, reqs chan<- *Req, ack func(*Resp) *Req, done chan<- struct{}) {
	go func() {
		for range 3 {
			select {
			case r := <-resps:
				reqs <- ack(r)
			case <-ctx.Done():
				return
			}
		}
		done <- struct{}{}
	}()
}

func benchColdSync(b *testing.B, gen *benchGen, connect func(context.Context, *Server, int, chan<- struct{})) {
	const streams = 100
	srv := NewServer(Options{Generator: gen, Logger: logr.Discard()})
	srv.ready.Store(true)
	// The view exists before the measured streams arrive, as in a running mesh.
	warm, stop := context.WithCancel(context.Background())
	done := make(chan struct{}, streams)
	connect(warm, srv, -1, done)
	for srv.streamCountForBench() < 1 {
		time.Sleep(time.Millisecond)
	}
	srv.pushNew()
	<-done
	defer stop()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		ctx, cancel := context.WithCancel(context.Background())
		for i := range streams {
			connect(ctx, srv, i, done)
		}
		for range streams {
			<-done
		}
		cancel()
	}
}

// benchACK is a benchmark proxy's ACK of r, repeating its subscription as SotW requires:
// every endpoint and route by name, clusters by wildcard.
func benchACK(r *discoveryv3.DiscoveryResponse, edsNames, rdsNames []string) *discoveryv3.DiscoveryRequest {
	ack := &discoveryv3.DiscoveryRequest{TypeUrl: r.TypeUrl, VersionInfo: r.VersionInfo, ResponseNonce: r.Nonce}
	switch r.TypeUrl {
	case edsType:
		ack.ResourceNames = edsNames
	case rdsType:
		ack.ResourceNames = rdsNames
	}
	return ack
}
