package discovery

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
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
}

func (s *snapshots) markDirty() { s.dirty.Store(true) }

// get returns the latest snapshot; if the inputs cannot be read, the last
// good snapshot keeps serving.
func (s *snapshots) get(ctx context.Context) *model.Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current != nil && !s.dirty.Load() {
		return s.current
	}
	s.dirty.Store(false)
	start := time.Now()
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
	s.metrics.modelBuild.Observe(time.Since(start).Seconds())
	s.reports.replace("model", append(problems, s.current.Problems()...))
	return s.current
}
