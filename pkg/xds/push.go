package xds

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
)

// PushStatus describes the last push.
type PushStatus struct {
	Seq             uint64    `json:"seq"`
	Reason          string    `json:"reason"`
	TriggeredAt     time.Time `json:"triggeredAt"`
	StartedAt       time.Time `json:"startedAt"`
	DurationSeconds float64   `json:"durationSeconds"` // generate + marshal of all views
	Views           int       `json:"views"`
	// ViewsUnaffected are the views in use a scoped push left as they were (see ScopedGenerator).
	ViewsUnaffected int            `json:"viewsUnaffected,omitempty"`
	ViewsChanged    int            `json:"viewsChanged"`
	GenerateErrors  int            `json:"generateErrors"`
	StreamsNotified int            `json:"streamsNotified"`
	Resources       map[string]int `json:"resources"` // by type URL, summed over views
	Changed         map[string]int `json:"changed"`   // added or modified, by type URL, summed over views
	Removed         map[string]int `json:"removed"`
	// Convergence, filled in once every stream answered (see pushRecord).
	Converged          bool    `json:"converged"`
	ConvergenceSeconds float64 `json:"convergenceSeconds,omitempty"`
	ConvergenceResult  string  `json:"convergenceResult,omitempty"`
	Responses          int64   `json:"responses"`
}

type viewResult struct {
	snap *snapshot // nil: failed or unchanged
	err  error
}

// pushAll regenerates every view in use, or for a push Trigger asked for, those a
// ScopedGenerator says the changes can affect. It reports false when a view still has no
// snapshot at all.
func (s *Server) pushAll(reason string, triggered time.Time) bool {
	if !s.ready.Load() {
		return true
	}
	views, skipped := s.watchedViews(), 0
	if reason == "trigger" {
		views, skipped = s.inScope(views)
	}
	return s.push(reason, triggered, views, skipped, s.generateView)
}

// pushNew generates the views that have never been generated.
func (s *Server) pushNew() bool {
	if !s.ready.Load() {
		return true
	}
	var fresh []*view
	for _, v := range s.activeViews() {
		if v.snapshot() == nil {
			fresh = append(fresh, v)
		}
	}
	if len(fresh) == 0 {
		return true
	}
	return s.push("new_view", time.Now(), fresh, 0, s.generateView)
}

// push builds the views' next snapshots with gen, in parallel, and
// publishes those that changed.
func (s *Server) push(reason string, triggered time.Time, views []*view, skipped int, gen func(*view, *marshaler) viewResult) bool {
	seq := s.pushSeq.Add(1)
	start := time.Now()
	tr := s.startPushTrace(reason, seq, triggered, start)
	s.pushTrace = tr // read by gen's workers, started below
	m := newMarshaler(&s.marshalCount)
	views = slices.SortedFunc(slices.Values(views), func(a, b *view) int { return strings.Compare(a.key, b.key) })
	results := make([]viewResult, len(views))
	workers := min(runtime.GOMAXPROCS(0), len(views))
	// A message shared by views of one namespace is looked up again within a few views,
	// even with every worker's view in between.
	m.forgetAfter = 2 * workers
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				results[i] = gen(views[i], m)
			}
		})
	}
	for i := range views {
		next <- i
	}
	close(next)
	wg.Wait()
	s.pushEnded()
	s.pushTrace = nil
	elapsed := time.Since(start)

	st := PushStatus{
		Seq: seq, Reason: reason, TriggeredAt: triggered, StartedAt: start, DurationSeconds: elapsed.Seconds(),
		Views: len(views), ViewsUnaffected: skipped, Resources: map[string]int{}, Changed: map[string]int{}, Removed: map[string]int{},
	}
	// New views are not measured: no Trigger started them.
	var rec *pushRecord
	if reason != "new_view" {
		rec = newPushRecord(seq, triggered, s.converged)
		rec.trace = tr
	}
	if reason == "endpoints" {
		s.lastEndpointPush.Store(rec)
	}
	complete := true
	for i, v := range views {
		r := results[i]
		if v.gone.Load() {
			continue // dropped while this push ran
		}
		if r.err != nil {
			st.GenerateErrors++
			if v.snapshot() == nil {
				complete = false
			}
			continue
		}
		if r.snap == nil {
			continue
		}
		st.ViewsChanged++
		for t, c := range r.snap.changes {
			st.Changed[t] += len(c.changed)
			st.Removed[t] += len(c.removed)
		}
		if r.snap.parent == 0 {
			for t, ts := range r.snap.types {
				st.Changed[t] += ts.len()
			}
		}
		st.StreamsNotified += v.publish(r.snap, rec)
	}
	s.countResources(st.Resources)

	s.statusMu.Lock()
	s.lastPush = st
	s.statusMu.Unlock()
	s.pushCount.Add(1)
	s.metrics.pushes.WithLabelValues(reason).Inc()
	s.metrics.pushDuration.Observe(elapsed.Seconds())
	tr.published(&st, start.Add(elapsed), rec != nil, s.traceTimeout)
	if rec != nil {
		rec.done()
	}
	return complete
}

// generateView generates and marshals one view. It returns a nil snapshot
// when nothing changed.
func (s *Server) generateView(v *view, m *marshaler) viewResult {
	if v.gone.Load() {
		return viewResult{}
	}
	start := time.Now()
	gen, err := s.callGenerate(s.pushTrace, v.key)
	if err != nil && v.gone.Load() {
		return viewResult{} // the generator forgot the view meanwhile; nobody needs it
	}
	v.failed.Store(err != nil)
	if err != nil {
		s.metrics.generateErrors.Inc()
		s.log.Error(err, "generate failed; the view keeps its last good resources", "view", v.key)
		return viewResult{err: err}
	}
	prev := v.snapshot()
	snap, problems := buildSnapshot(gen, prev, m)
	m.viewMarshaled()
	if len(problems) > 0 {
		s.metrics.invalid.Add(float64(len(problems)))
		shown := problems[:min(len(problems), 5)]
		s.log.Info("skipped resources that cannot be served", "view", v.key, "count", len(problems), "first", strings.Join(shown, "; "))
	}
	s.metrics.generate.Observe(time.Since(start).Seconds())
	if prev == nil {
		return viewResult{snap: snap}
	}
	snap.parent = prev.seq
	snap.changes = diffSnapshots(prev, snap)
	if len(snap.changes) == 0 {
		return viewResult{}
	}
	return viewResult{snap: snap}
}

// callGenerate shields the push loop from a panicking generator.
func (s *Server) callGenerate(tr *pushTrace, key string) (map[string][]types.Resource, error) {
	s.generations.Add(1)
	if tr != nil {
		return tr.generate(s.gen, key)
	}
	return recovering("generator", func() (map[string][]types.Resource, error) { return s.gen.Generate(key) })
}

// recovering calls f, turning a panic into an error naming what panicked,
// so that a faulty generator fails its view instead of the push loop.
func recovering[T any](what string, f func() (T, error)) (out T, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s panicked: %v", what, p)
		}
	}()
	return f()
}

func (s *Server) countResources(out map[string]int) {
	for _, v := range s.activeViews() {
		if snap := v.snapshot(); snap != nil {
			for t, ts := range snap.types {
				out[t] += ts.len()
			}
		}
	}
	s.metrics.resources.Reset()
	for t, n := range out {
		s.metrics.resources.WithLabelValues(typeLabel(t)).Set(float64(n))
	}
}

// converged is called once a measured push has been answered by every
// stream it touched.
func (s *Server) converged(r *pushRecord, at time.Time) {
	n := r.responses.Load()
	secs := at.Sub(r.triggered).Seconds()
	result := r.result()
	if n == 0 {
		result, secs = "nothing_sent", 0
	} else {
		s.metrics.convergence.WithLabelValues(result).Observe(secs)
	}
	r.trace.finish(result, n, at)
	s.statusMu.Lock()
	if s.lastPush.Seq == r.seq {
		s.lastPush.Converged = true
		s.lastPush.ConvergenceSeconds = secs
		s.lastPush.ConvergenceResult = result
		s.lastPush.Responses = n
	}
	s.statusMu.Unlock()
}

// PushStatus returns the status of the last push.
func (s *Server) PushStatus() PushStatus {
	s.statusMu.Lock()
	defer s.statusMu.Unlock()
	return s.lastPush
}
