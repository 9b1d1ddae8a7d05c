// Package xds serves Envoy and proxyless gRPC clients over the aggregated
// discovery service (ADS), in both the state-of-the-world and the
// incremental (delta) variant.
//
// Resources come from a Generator, grouped in views: every node maps to a
// view key, and all nodes with the same key see the same resources. A push
// generates each view once and marshals each resource once; the resulting
// Any (and delta Resource) messages are shared by every response of every
// stream. Each stream remembers the snapshot it was last brought up to date
// with and is sent only what changed since.
//
// A view lives while streams watch it and for a grace period after its last
// stream closed; then it is dropped and a Generator that is a ViewRemover is
// told to forget it.
package xds

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
)

// Generator is implemented by the discovery side. Generate may be called
// concurrently for different view keys.
type Generator interface {
	// ViewKey maps a node to the key of the view it sees. Nodes with equal
	// keys share the same generated (and marshaled) resources. An error
	// rejects the stream (codes.InvalidArgument), naming the node id.
	ViewKey(node *corev3.Node) (string, error)
	// Generate returns every resource of the view: type URL -> resources.
	Generate(viewKey string) (map[string][]types.Resource, error)
}

// ContextViewKeyer is implemented by a Generator whose views depend on the stream's
// context as well as the node: for example on the caller a secure port authenticated
// (carried in the context by a gRPC interceptor). The Server then calls ViewKeyFor
// instead of ViewKey; an error that is a gRPC status keeps its code.
type ContextViewKeyer interface {
	ViewKeyFor(ctx context.Context, node *corev3.Node) (string, error)
}

// Options configure a Server.
type Options struct {
	Generator     Generator
	DebounceQuiet time.Duration // default DefaultDebounceQuiet: push after this long without a new Trigger
	DebounceMax   time.Duration // default 1s: push at the latest this long after the first Trigger of a burst
	// The same for TriggerEndpoints (Generators that implement
	// EndpointGenerator): default 5ms and 100ms.
	EndpointDebounceQuiet time.Duration
	EndpointDebounceMax   time.Duration
	// ViewGracePeriod keeps a view whose last stream closed for this long,
	// or until the next push that would regenerate it, so that a proxy that
	// reconnects meanwhile is answered at once instead of causing a
	// regenerate; then the view is dropped and a ViewRemover Generator is
	// told. Default 10s; negative drops a view as soon as its last stream
	// closes.
	ViewGracePeriod time.Duration
	// NackMemory is how long a node's NACK is remembered across reconnects
	// (see rejections). Default 10m.
	NackMemory time.Duration
	Logger     logr.Logger
	Registerer prometheus.Registerer // nil: metrics are kept but not registered
	// Tracer, if set, traces every push (see SpanConfigChange); TraceTimeout
	// (default 30s) ends a push's trace when some proxy never answers.
	Tracer       trace.Tracer
	TraceTimeout time.Duration
}

// Server is an ADS server. Create it with NewServer.
type Server struct {
	discoveryv3.UnimplementedAggregatedDiscoveryServiceServer

	gen     Generator
	log     logr.Logger
	metrics *metrics
	nacks   *nackLog
	// rejected remembers NACKs per node across reconnects.
	rejected *rejections
	grace    time.Duration // Options.ViewGracePeriod

	tracer       trace.Tracer // nil: tracing off
	traceTimeout time.Duration
	pushTrace    *pushTrace // the running push's; push loop and its workers only

	ready     atomic.Bool
	started   atomic.Bool
	full      *debouncer // Trigger
	endpoints *debouncer // TriggerEndpoints

	lastEndpointPush atomic.Pointer[pushRecord]
	readyCh          chan struct{}
	newViewCh        chan struct{}
	idleCh           chan struct{} // a view lost its last stream

	mu    sync.Mutex
	views map[string]*view // including idle ones, until dropped
	// viewsPeak is the most views held since views was last shrunk.
	viewsPeak int
	streams   map[uint64]*stream
	streamID  uint64
	// removals counts views dropped; it is written under mu and read
	// without it before ViewKey (see openStream).
	removals atomic.Uint64

	pushSeq      atomic.Uint64
	pushCount    atomic.Int64
	generations  atomic.Int64 // Generate calls
	marshalCount atomic.Int64

	statusMu sync.Mutex
	lastPush PushStatus
}

// DefaultDebounceQuiet is how long config changes must pause before a push, as
// istiod's PILOT_DEBOUNCE_AFTER by default.
const DefaultDebounceQuiet = 100 * time.Millisecond

// NewServer returns a server; call Register, then Start, then SetReady once
// the generator's inputs are synced.
func NewServer(opts Options) *Server {
	if opts.DebounceQuiet <= 0 {
		opts.DebounceQuiet = DefaultDebounceQuiet
	}
	if opts.DebounceMax <= 0 {
		opts.DebounceMax = time.Second
	}
	if opts.EndpointDebounceQuiet <= 0 {
		opts.EndpointDebounceQuiet = 5 * time.Millisecond
	}
	if opts.EndpointDebounceMax <= 0 {
		opts.EndpointDebounceMax = 100 * time.Millisecond
	}
	if opts.ViewGracePeriod == 0 {
		opts.ViewGracePeriod = 10 * time.Second
	}
	if opts.TraceTimeout <= 0 {
		opts.TraceTimeout = defaultTraceTimeout
	}
	if opts.NackMemory <= 0 {
		opts.NackMemory = 10 * time.Minute
	}
	m := newMetrics(opts.Registerer)
	s := &Server{
		gen:          opts.Generator,
		full:         newDebouncer(opts.DebounceQuiet, opts.DebounceMax),
		endpoints:    newDebouncer(opts.EndpointDebounceQuiet, opts.EndpointDebounceMax),
		log:          opts.Logger,
		metrics:      m,
		nacks:        newNackLog(opts.Logger, m),
		rejected:     newRejections(opts.NackMemory),
		grace:        opts.ViewGracePeriod,
		tracer:       opts.Tracer,
		traceTimeout: opts.TraceTimeout,
		readyCh:      make(chan struct{}, 1),
		newViewCh:    make(chan struct{}, 1),
		idleCh:       make(chan struct{}, 1),
		views:        map[string]*view{},
		streams:      map[uint64]*stream{},
	}
	m.outOfDate.watch(s)
	return s
}

// Register registers the aggregated discovery service (SotW and delta) on g.
func (s *Server) Register(g *grpc.Server) {
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(g, s)
}

// SetReady marks the generator's inputs as synced. Streams connected before
// it receive nothing; the first push runs right after it.
func (s *Server) SetReady() {
	if s.ready.CompareAndSwap(false, true) {
		poke(s.readyCh)
	}
}

// Trigger asks for a push of every view in use, debounced.
func (s *Server) Trigger() { s.full.trigger() }

// TriggerEndpoints asks for a quick push of the ClusterLoadAssignments that
// changed, if the Generator implements EndpointGenerator; debounced on its
// own, shorter window. It does not replace Trigger: endpoints also shape
// other resources (inbound listeners, headless services), which only the
// full push rebuilds.
func (s *Server) TriggerEndpoints() { s.endpoints.trigger() }

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// StreamAggregatedResources serves a state-of-the-world ADS stream.
func (s *Server) StreamAggregatedResources(ss discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesServer) error {
	first, err := ss.Recv()
	if err != nil {
		return err
	}
	st, err := s.openStream(ss.Context(), kindSotw, first.GetNode())
	if err != nil {
		return err
	}
	defer s.closeStream(st)
	h := &sotwStream{stream: st, send: ss.SendMsg}
	return serve(ss.Context(), st, first, ss.Recv, h.onRequest, h.sync)
}

// DeltaAggregatedResources serves an incremental ADS stream.
func (s *Server) DeltaAggregatedResources(ds discoveryv3.AggregatedDiscoveryService_DeltaAggregatedResourcesServer) error {
	first, err := ds.Recv()
	if err != nil {
		return err
	}
	st, err := s.openStream(ds.Context(), kindDelta, first.GetNode())
	if err != nil {
		return err
	}
	defer s.closeStream(st)
	h := &deltaStream{stream: st, send: ds.SendMsg}
	return serve(ds.Context(), st, first, ds.Recv, h.onRequest, h.sync)
}

// Start runs the push loop until ctx is done.
func (s *Server) Start(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("xds: Start called twice")
	}
	if s.gen == nil {
		return fmt.Errorf("xds: Options.Generator is required")
	}
	s.run(ctx)
	return nil
}

// views in use, for a push.
func (s *Server) activeViews() []*view {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*view, 0, len(s.views))
	for _, v := range s.views {
		out = append(out, v)
	}
	return out
}
