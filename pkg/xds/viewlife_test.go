package xds

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// registryGen behaves as internal/discovery's generator does: ViewKey
// registers the view, Generate fails for a view it does not know, and each
// view leaves a problems source until ViewRemoved forgets both.
type registryGen struct {
	mu          sync.Mutex
	views       map[string]bool
	sources     map[string]int // view -> generations, standing for its problems
	peak        int            // of views, for shrink
	removed     int
	lastRemoved string
}

func newRegistryGen() *registryGen {
	return &registryGen{views: map[string]bool{}, sources: map[string]int{}}
}

func (g *registryGen) ViewKey(node *corev3.Node) (string, error) {
	key := node.GetCluster()
	g.mu.Lock()
	g.views[key] = true
	g.peak = max(g.peak, len(g.views))
	g.mu.Unlock()
	return key, nil
}

func (g *registryGen) Generate(key string) (map[string][]types.Resource, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.views[key] {
		return nil, fmt.Errorf("unknown view %s", key)
	}
	g.sources[key]++
	return map[string][]types.Resource{cdsType: {cluster("c-"+key, len(key))}}, nil
}

func (g *registryGen) ViewRemoved(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.views, key)
	delete(g.sources, key)
	peak := g.peak
	g.views = shrink(g.views, &g.peak)
	g.sources = shrink(g.sources, &peak)
	g.removed++
	g.lastRemoved = key
}

func (g *registryGen) sizes() (views, sources int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.views), len(g.sources)
}

func withGenerator(gen Generator) envOpt { return func(o *Options) { o.Generator = gen } }

func withGrace(d time.Duration) envOpt { return func(o *Options) { o.ViewGracePeriod = d } }

// connectOnce opens a stream of the given variant for a node of view key,
// waits for its clusters, ACKs them and closes the stream.
func (e *testEnv) connectOnce(ctx context.Context, delta bool, nodeID, key string) error {
	ctx, cancel := context.WithTimeout(ctx, failAfter)
	defer cancel()
	ads := discoveryv3.NewAggregatedDiscoveryServiceClient(e.conn)
	node := &corev3.Node{Id: nodeID, Cluster: key}
	if delta {
		s, err := ads.DeltaAggregatedResources(ctx)
		if err != nil {
			return err
		}
		if err := s.Send(&discoveryv3.DeltaDiscoveryRequest{Node: node, TypeUrl: cdsType}); err != nil {
			return err
		}
		r, err := s.Recv()
		if err != nil {
			return fmt.Errorf("%s: %w", nodeID, err)
		}
		if len(r.Resources) != 1 {
			return fmt.Errorf("%s: %d clusters, want 1", nodeID, len(r.Resources))
		}
		return s.Send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: cdsType, ResponseNonce: r.Nonce})
	}
	s, err := ads.StreamAggregatedResources(ctx)
	if err != nil {
		return err
	}
	if err := s.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: cdsType}); err != nil {
		return err
	}
	r, err := s.Recv()
	if err != nil {
		return fmt.Errorf("%s: %w", nodeID, err)
	}
	if len(r.Resources) != 1 {
		return fmt.Errorf("%s: %d clusters, want 1", nodeID, len(r.Resources))
	}
	return s.Send(&discoveryv3.DiscoveryRequest{TypeUrl: cdsType, VersionInfo: r.VersionInfo, ResponseNonce: r.Nonce})
}

// runProxies connects n short-lived proxies from workers goroutines; key
// names the view of proxy i.
func (e *testEnv) runProxies(n, workers int, key func(i int) string) {
	e.t.Helper()
	errs := make(chan error, workers)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := e.connectOnce(context.Background(), i%2 == 1, fmt.Sprintf("sidecar~10.0.0.1~p-%d.ns~ns.svc.cluster.local", i), key(i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	go func() {
		defer close(next)
		for i := range n {
			select {
			case next <- i:
			case <-time.After(failAfter):
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		e.t.Fatal(err)
	}
}

// waitStreams waits until the server holds n streams (the others closed).
func (e *testEnv) waitStreams(n int) {
	e.t.Helper()
	waitFor(e.t, "the short-lived streams closed on the server", func() bool {
		e.srv.mu.Lock()
		defer e.srv.mu.Unlock()
		return len(e.srv.streams) == n
	})
}

func heapAfterGC() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func TestIdleViewIsKeptForItsGracePeriodThenForgotten(t *testing.T) {
	gen := newRegistryGen()
	e := startEnv(t, true, withGenerator(gen), withGrace(time.Hour))
	ctx := context.Background()
	if err := e.connectOnce(ctx, false, "a", "v"); err != nil {
		t.Fatal(err)
	}
	if got := e.srv.PushStatus().Reason; got != "new_view" {
		t.Fatalf("a proxy of a new view after SetReady: push reason %q", got)
	}
	e.waitStreams(0)
	generations := e.srv.generations.Load()

	// Within the grace period the view stays, and a reconnecting proxy is
	// answered from it without a regenerate.
	if got := e.srv.dropIdleViews(time.Now()); got <= 0 {
		t.Fatalf("an idle view within its grace period: next sweep in %v, want > 0", got)
	}
	if n := e.srv.viewCount(); n != 1 {
		t.Fatalf("%d views within the grace period, want 1", n)
	}
	if err := e.connectOnce(ctx, true, "a", "v"); err != nil {
		t.Fatal(err)
	}
	if got := e.srv.generations.Load(); got != generations {
		t.Fatalf("a reconnect within the grace period regenerated the view (%d -> %d generations)", generations, got)
	}
	e.waitStreams(0)

	// Once the grace period is over the view is dropped and the generator told.
	if got := e.srv.dropIdleViews(time.Now().Add(time.Hour)); got != 0 {
		t.Fatalf("next sweep in %v with nothing idle", got)
	}
	if n := e.srv.viewCount(); n != 0 {
		t.Fatalf("%d views after the grace period", n)
	}
	if views, sources := gen.sizes(); views != 0 || sources != 0 || gen.removed != 1 || gen.lastRemoved != "v" {
		t.Fatalf("generator after removal: %d views, %d sources, %d removed (last %q)", views, sources, gen.removed, gen.lastRemoved)
	}
	if got := testutil.ToFloat64(e.srv.metrics.views); got != 0 {
		t.Fatalf("views gauge = %v", got)
	}
	// A push without views generates nothing; a new proxy of the key gets it again.
	before := e.srv.generations.Load()
	e.trigger()
	if got := e.srv.generations.Load(); got != before {
		t.Fatal("a dropped view was regenerated")
	}
	if err := e.connectOnce(ctx, false, "b", "v"); err != nil {
		t.Fatal(err)
	}
	if got := e.counter(e.srv.metrics.generateErrors); got != 0 {
		t.Fatalf("%v generate errors", got)
	}
}

// The push loop's own timer drops idle views once their grace is over.
func TestIdleViewIsDroppedByThePushLoop(t *testing.T) {
	gen := newRegistryGen()
	e := startEnv(t, true, withGenerator(gen), withGrace(time.Millisecond))
	if err := e.connectOnce(context.Background(), false, "a", "v"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the idle view dropped", func() bool {
		views, sources := gen.sizes()
		return e.srv.viewCount() == 0 && views == 0 && sources == 0
	})
}

// Streams joining views while their last streams leave, with views dropped
// at once: a stream that joins must never land in a view the generator has
// forgotten (it would get nothing: Generate fails for unknown views).
func TestJoiningAViewRacesItsRemoval(t *testing.T) {
	gen := newRegistryGen()
	e := startEnv(t, true, withGenerator(gen), withGrace(-1))
	e.runProxies(2000, 16, func(i int) string { return fmt.Sprintf("v%d", i%4) })
	e.waitStreams(0)
	if got := e.counter(e.srv.metrics.generateErrors); got != 0 {
		t.Fatalf("%v generate errors: a stream joined a view the generator had forgotten", got)
	}
	if views, sources := gen.sizes(); e.srv.viewCount() != 0 || views != 0 || sources != 0 {
		t.Fatalf("left behind: server %d views, generator %d views and %d sources", e.srv.viewCount(), views, sources)
	}
}

// 10,000 short-lived proxies, each of its own view (a new pod label set per
// rollout), leave nothing behind once their views' grace period is over.
func TestChurnOfShortLivedProxiesLeavesNothingBehind(t *testing.T) {
	const proxies = 10000
	gen := newRegistryGen()
	e := startEnv(t, true, withGenerator(gen), withGrace(time.Hour))
	// One long-lived proxy, so that the start is not empty, and one
	// short-lived proxy of each variant, so that one-time initialization
	// (protobuf's lazy descriptors) is in the starting heap.
	keep := e.sotw("keeper", "keep")
	keep.request(cdsType)
	keep.ack(keep.recv())
	e.runProxies(2, 1, func(i int) string { return fmt.Sprintf("warm-up-%d", i) })
	e.waitStreams(1)
	e.srv.dropIdleViews(time.Now().Add(time.Hour))
	startViews := e.srv.viewCount()
	startGenViews, startSources := gen.sizes()
	startHeap := heapAfterGC()

	e.runProxies(proxies, 32, func(i int) string { return fmt.Sprintf("pod-template-hash-%d", i) })
	e.waitStreams(1)
	heldHeap := heapAfterGC()
	if n := e.srv.viewCount(); n != startViews+proxies {
		t.Fatalf("%d views within the grace period, want %d", n, startViews+proxies)
	}

	e.srv.dropIdleViews(time.Now().Add(time.Hour))
	endHeap := heapAfterGC()
	views, sources := gen.sizes()
	if n := e.srv.viewCount(); n != startViews || views != startGenViews || sources != startSources {
		t.Fatalf("after the churn: server %d views (start %d), generator %d views (start %d), %d sources (start %d)",
			n, startViews, views, startGenViews, sources, startSources)
	}
	if got := testutil.ToFloat64(e.srv.metrics.proxies.WithLabelValues("sotw")) + testutil.ToFloat64(e.srv.metrics.proxies.WithLabelValues("delta")); got != 1 {
		t.Fatalf("connected proxies gauge = %v, want 1", got)
	}
	perView := (int64(heldHeap) - int64(startHeap)) / proxies
	grown := int64(endHeap) - int64(startHeap)
	t.Logf("heap: start %d KiB, %d views held %d KiB (%d B per view), end %d KiB",
		startHeap>>10, proxies, heldHeap>>10, perView, endHeap>>10)
	if perView <= 0 {
		t.Fatalf("holding %d views did not grow the heap (%d -> %d): the measurement says nothing", proxies, startHeap, heldHeap)
	}
	// Generous: what is left may not exceed what 5% of the views cost.
	if grown > perView*proxies/20 {
		t.Fatalf("heap grew by %d KiB over the churn, more than %d views' worth (%d B each)", grown>>10, proxies/20, perView)
	}
}

// A push does not regenerate a view nobody watches: it drops it.
func TestPushDropsIdleViewsInsteadOfRegeneratingThem(t *testing.T) {
	gen := newRegistryGen()
	e := startEnv(t, true, withGenerator(gen), withGrace(time.Hour))
	keep := e.sotw("keeper", "keep")
	keep.request(cdsType)
	keep.ack(keep.recv())
	if err := e.connectOnce(context.Background(), false, "a", "v"); err != nil {
		t.Fatal(err)
	}
	e.waitStreams(1)
	e.trigger()
	if n := e.srv.viewCount(); n != 1 || gen.removed != 1 || gen.lastRemoved != "v" {
		t.Fatalf("after a push: %d views, %d removed (last %q); want only the watched view kept", n, gen.removed, gen.lastRemoved)
	}
	gen.mu.Lock()
	defer gen.mu.Unlock()
	if gen.sources["keep"] != 2 {
		t.Fatalf("the watched view was generated %d times, want 2 (first proxy, push)", gen.sources["keep"])
	}
}
