package discovery

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"go.opentelemetry.io/otel/trace"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"loom.dev/loom/pkg/model"
)

// snapshots keeps the current model snapshot, rebuilt from the cache on the
// first read after a change, so a burst of events costs one rebuild.
type snapshots struct {
	reader client.Reader
	// mesh holds the mesh-wide settings every Input starts from.
	mesh    model.Input
	log     logr.Logger
	metrics *metrics

	dirty   atomic.Bool
	mu      sync.Mutex
	current *model.Snapshot
	reports *problemLog
	tracer  trace.Tracer      // nil: tracing off
	builtBy trace.SpanContext // the span of current's build, if traced (under mu)

	pendingMu        sync.Mutex
	pendingEndpoints map[string]uint64 // namespace/name of Services whose EndpointSlices changed -> note number
	notes            uint64            // endpoint changes noted so far
	builtThrough     uint64            // the notes current's build read (under mu)
}

func (s *snapshots) markDirty() { s.dirty.Store(true) }

// noteEndpoints records that the EndpointSlices of a Service changed.
func (s *snapshots) noteEndpoints(serviceKey string) {
	s.pendingMu.Lock()
	if s.pendingEndpoints == nil {
		s.pendingEndpoints = map[string]uint64{}
	}
	s.notes++
	s.pendingEndpoints[serviceKey] = s.notes
	s.pendingMu.Unlock()
}

// A rebuild of the model reads the endpoint changes noted before it, but only a push takes
// them to the proxies: the notes stay until the quick endpoint push takes them, or until a
// push that regenerates every view from a model holding them (see deliveredToAll).

// noteCount is how many endpoint changes have been noted.
func (s *snapshots) noteCount() uint64 {
	s.pendingMu.Lock()
	defer s.pendingMu.Unlock()
	return s.notes
}

// dropEndpointNotes forgets every endpoint change noted so far (those of the initial list).
func (s *snapshots) dropEndpointNotes() {
	s.pendingMu.Lock()
	s.pendingEndpoints = nil
	s.pendingMu.Unlock()
}

// deliveredToAll drops the endpoint notes that the current model holds: a push is about to
// regenerate every view from it.
func (s *snapshots) deliveredToAll() {
	s.mu.Lock()
	through := s.builtThrough
	s.mu.Unlock()
	s.pendingMu.Lock()
	defer s.pendingMu.Unlock()
	for key, note := range s.pendingEndpoints {
		if note <= through {
			delete(s.pendingEndpoints, key)
		}
	}
}

// endpointChanges applies the EndpointSlice changes noted since its last
// call to the current model, without a full rebuild, and returns that
// model with the services whose endpoints it replaced. It returns nil when
// there is no model yet or nothing applies (a Service not in the model yet
// comes with the full rebuild, which the same events also asked for).
func (s *snapshots) endpointChanges(ctx context.Context) (*model.Snapshot, []*model.Service) {
	s.pendingMu.Lock()
	keys := s.pendingEndpoints
	s.pendingEndpoints = nil
	s.pendingMu.Unlock()
	if len(keys) == 0 {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current == nil {
		return nil, nil
	}
	snap := s.current
	var changed []*model.Service
	for key := range keys {
		namespace, name, _ := strings.Cut(key, "/")
		eps, err := readServiceEndpoints(ctx, s.reader, namespace, name, snap.DomainSuffix())
		if err != nil {
			s.log.V(1).Info("quick endpoint update skipped; the full rebuild follows", "service", key, "reason", err.Error())
			continue
		}
		if next, svc := snap.WithEndpoints(namespace, name, eps); next != nil {
			snap = next
			changed = append(changed, svc)
		}
	}
	if len(changed) == 0 {
		return nil, nil
	}
	s.current = snap
	return snap, changed
}

// get returns the latest snapshot; if the inputs cannot be read, the last
// good snapshot keeps serving.
func (s *snapshots) get(ctx context.Context) *model.Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current != nil && !s.dirty.Load() {
		return s.current
	}
	s.dirty.Store(false)
	// A change is noted after the cache holds it: the rebuild reads every note made so far.
	through := s.noteCount()
	start := time.Now()
	ctx, span := s.startModelBuild(ctx)
	defer endSpan(span)
	in, problems, err := readInputs(ctx, s.reader, s.mesh)
	if err != nil {
		s.log.Error(err, "reading inputs failed; serving the last good model")
		s.dirty.Store(true)
		if s.current == nil {
			return model.Build(s.mesh)
		}
		return s.current
	}
	s.current = model.Build(in)
	s.builtThrough = through
	s.metrics.modelBuild.Observe(time.Since(start).Seconds())
	s.reports.replace("model", append(problems, s.current.Problems()...))
	return s.current
}
