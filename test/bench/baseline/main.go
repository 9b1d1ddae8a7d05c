// Command baseline is the scale benchmark's baseline control plane: the xDS
// server a team would write by hand with go-control-plane v0.14.0, a
// snapshot cache (cache.NewSnapshotCache(false, cache.IDHash{}, nil)) and its
// stock gRPC server, with one Snapshot per node id, set when a node connects
// and again after every change.
//
// Its inputs are Loom's own (internal/discovery.Source: the same watches,
// model and translation `loom discovery` uses, one translation per view
// shared by the nodes of the view), so the serving layer is the only
// difference from `loom discovery`. Each type's version in a snapshot is a
// hash of that type's resources, so a change resends only the types it
// touched (a single global version would resend everything); changes are
// debounced like Loom's (100 ms quiet, 1 s at most).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cespare/xxhash/v2"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"github.com/go-logr/logr"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/proto"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"loom.dev/loom/internal/discovery"
)

func main() {
	var (
		kubeconfig, xdsAddr, httpAddr, rootNS string
		quiet, maxWait                        time.Duration
	)
	flag.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the cluster to watch")
	flag.StringVar(&xdsAddr, "xds-address", "127.0.0.1:15010", "plaintext ADS address")
	flag.StringVar(&httpAddr, "http-address", "127.0.0.1:15014", "address of /ready and /debug/pprof")
	flag.StringVar(&rootNS, "root-namespace", "istio-system", "namespace of mesh-wide defaults")
	flag.DurationVar(&quiet, "debounce-quiet", 100*time.Millisecond, "push after this long without a new change")
	flag.DurationVar(&maxWait, "debounce-max", time.Second, "push at the latest this long after the first change of a burst")
	flag.Parse()
	if err := run(kubeconfig, xdsAddr, httpAddr, rootNS, quiet, maxWait); err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}

func run(kubeconfig, xdsAddr, httpAddr, rootNS string, quiet, maxWait time.Duration) error {
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer cancel()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	log := zap.New(zap.WriteTo(os.Stderr))
	changed := make(chan struct{}, 1)
	src, err := discovery.NewSource(ctx, cfg, discovery.Options{RootNamespace: rootNS, Logger: log}, func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return err
	}
	b := &baseline{src: src, cache: cachev3.NewSnapshotCache(false, cachev3.IDHash{}, nil), log: log,
		streams: map[int64]string{}, nodes: map[string]*nodeEntry{}}

	grpcServer := grpc.NewServer(
		grpc.MaxConcurrentStreams(100000),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	)
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(grpcServer, serverv3.NewServer(ctx, b.cache, b.callbacks()))
	lis, err := net.Listen("tcp", xdsAddr)
	if err != nil {
		return err
	}
	mux := http.DefaultServeMux
	mux.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !b.ready.Load() {
			http.Error(w, "not synced", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	httpServer := &http.Server{Addr: httpAddr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	errc := make(chan error, 4)
	go func() { errc <- src.Start(ctx) }()
	go func() { errc <- grpcServer.Serve(lis) }()
	go func() { errc <- httpServer.ListenAndServe() }()
	go func() {
		if !src.WaitForCacheSync(ctx) {
			return
		}
		b.push() // nodes that connected early
		b.ready.Store(true)
		log.Info("caches synced; serving")
		b.debounce(ctx, changed, quiet, maxWait)
	}()
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	grpcServer.Stop()
	_ = httpServer.Close()
	if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, grpc.ErrServerStopped) && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

type nodeEntry struct {
	node    *corev3.Node
	view    string
	streams int
}

type baseline struct {
	src   *discovery.Source
	cache cachev3.SnapshotCache
	log   logr.Logger
	ready atomic.Bool

	// mu serializes snapshot updates: a node's first snapshot and pushes.
	mu      sync.Mutex
	streams map[int64]string      // stream id -> node id
	nodes   map[string]*nodeEntry // connected node ids
	memo    map[string]*cachev3.Snapshot
}

func (b *baseline) callbacks() serverv3.Callbacks {
	return serverv3.CallbackFuncs{
		StreamRequestFunc: func(id int64, req *discoveryv3.DiscoveryRequest) error {
			return b.onRequest(id, req.GetNode())
		},
		StreamDeltaRequestFunc: func(id int64, req *discoveryv3.DeltaDiscoveryRequest) error {
			return b.onRequest(id, req.GetNode())
		},
		StreamClosedFunc:      func(id int64, _ *corev3.Node) { b.onClosed(id) },
		DeltaStreamClosedFunc: func(id int64, _ *corev3.Node) { b.onClosed(id) },
	}
}

// onRequest sets a node's snapshot when its first stream sends its first
// request, before the cache opens the watch.
func (b *baseline) onRequest(streamID int64, node *corev3.Node) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, known := b.streams[streamID]; known || node == nil {
		return nil
	}
	id := node.GetId()
	b.streams[streamID] = id
	if e := b.nodes[id]; e != nil {
		e.streams++
		return nil
	}
	view, err := b.src.ViewKey(node)
	if err != nil {
		return err
	}
	b.nodes[id] = &nodeEntry{node: node, view: view, streams: 1}
	if !b.ready.Load() {
		return nil
	}
	snap, err := b.snapshot(view)
	if err != nil {
		return err
	}
	return b.cache.SetSnapshot(context.Background(), id, snap)
}

func (b *baseline) onClosed(streamID int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	id, ok := b.streams[streamID]
	if !ok {
		return
	}
	delete(b.streams, streamID)
	if e := b.nodes[id]; e != nil {
		if e.streams--; e.streams <= 0 {
			delete(b.nodes, id)
			b.cache.ClearSnapshot(id)
		}
	}
}

// snapshot returns the view's snapshot of the current model, translating it
// once per push. Caller holds mu.
func (b *baseline) snapshot(view string) (*cachev3.Snapshot, error) {
	if s := b.memo[view]; s != nil {
		return s, nil
	}
	res, err := b.src.Generate(view)
	if err != nil {
		return nil, err
	}
	snap := &cachev3.Snapshot{}
	for typeURL, list := range res {
		i := cachev3.GetResponseType(typeURL)
		if i == types.UnknownType {
			return nil, fmt.Errorf("unknown type %s", typeURL)
		}
		snap.Resources[i] = cachev3.NewResources(version(list), list)
	}
	if b.memo == nil {
		b.memo = map[string]*cachev3.Snapshot{}
	}
	b.memo[view] = snap
	return snap, nil
}

// version hashes a type's resources, so unchanged types keep their version.
func version(list []types.Resource) string {
	sorted := make([]types.Resource, len(list))
	copy(sorted, list)
	sort.Slice(sorted, func(i, j int) bool { return cachev3.GetResourceName(sorted[i]) < cachev3.GetResourceName(sorted[j]) })
	h := xxhash.New()
	opts := proto.MarshalOptions{Deterministic: true}
	var buf []byte
	for _, r := range sorted {
		var err error
		buf, err = opts.MarshalAppend(buf[:0], r)
		if err != nil {
			return "unhashable-" + strconv.FormatInt(time.Now().UnixNano(), 10)
		}
		_, _ = h.Write(buf)
	}
	return strconv.FormatUint(h.Sum64(), 36)
}

// push translates the current model and sets every connected node's snapshot.
func (b *baseline) push() {
	start := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.memo = nil
	failed := 0
	for id, e := range b.nodes {
		snap, err := b.snapshot(e.view)
		if err == nil {
			err = b.cache.SetSnapshot(context.Background(), id, snap)
		}
		if err != nil {
			failed++
			b.log.Error(err, "snapshot", "node", id)
		}
	}
	b.log.V(1).Info("pushed", "nodes", len(b.nodes), "views", len(b.memo), "failed", failed, "took", time.Since(start))
}

// debounce pushes after quiet without changes, or maxWait after the first
// change of a burst.
func (b *baseline) debounce(ctx context.Context, changed <-chan struct{}, quiet, maxWait time.Duration) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
		first := time.Now()
		timer := time.NewTimer(quiet)
	burst:
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-changed:
				timer.Reset(min(quiet, max(0, maxWait-time.Since(first))))
			case <-timer.C:
				break burst
			}
		}
		b.push()
	}
}
