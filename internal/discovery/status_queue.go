package discovery

import (
	"context"
	"sync"
	"time"

	metav1alpha1 "istio.io/api/meta/v1alpha1"
	"k8s.io/utils/clock"

	"loom.dev/loom/pkg/model"
)

// statusWrite is a status to write on one object.
type statusWrite struct {
	ref    model.ConfigRef
	status *metav1alpha1.IstioStatus
}

// statusQueue holds the status writes not made yet, at most one per object: a newer status
// of an object replaces the queued one (the latest wins) and keeps its place in line. Writes
// leave it through a token bucket, at most rate per second after a burst, so a change that
// touches every object of a large mesh becomes a steady trickle instead of a storm of
// apiserver requests.
type statusQueue struct {
	clock clock.Clock
	rate  float64 // tokens per second
	burst float64

	mu      sync.Mutex
	order   []model.ConfigRef
	pending map[model.ConfigRef]statusWrite
	tokens  float64
	filled  time.Time // when tokens was last brought up to date
	wake    chan struct{}
}

func newStatusQueue(c clock.Clock, rate float64, burst int) *statusQueue {
	return &statusQueue{clock: c, rate: rate, burst: float64(burst), tokens: float64(burst), filled: c.Now(),
		pending: map[model.ConfigRef]statusWrite{}, wake: make(chan struct{}, 1)}
}

// add queues a write, replacing a queued one of the same object.
func (q *statusQueue) add(w statusWrite) {
	q.mu.Lock()
	if _, queued := q.pending[w.ref]; !queued {
		q.order = append(q.order, w.ref)
	}
	q.pending[w.ref] = w
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// drop forgets a queued write (the object is gone, or its status is already right).
func (q *statusQueue) drop(ref model.ConfigRef) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.pending, ref) // its place in order is skipped by take
}

func (q *statusQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending)
}

// take returns the next write when a token is available now. Otherwise it returns how long
// until one is, or ok false and wait 0 when nothing is queued.
func (q *statusQueue) take() (w statusWrite, wait time.Duration, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.order) > 0 {
		if _, queued := q.pending[q.order[0]]; queued {
			break
		}
		q.order = q.order[1:]
	}
	if len(q.order) == 0 {
		q.order = nil
		return statusWrite{}, 0, false
	}
	now := q.clock.Now()
	q.tokens = min(q.burst, q.tokens+now.Sub(q.filled).Seconds()*q.rate)
	q.filled = now
	if q.tokens < 1 {
		return statusWrite{}, time.Duration((1 - q.tokens) / q.rate * float64(time.Second)), false
	}
	q.tokens--
	ref := q.order[0]
	q.order = q.order[1:]
	w = q.pending[ref]
	delete(q.pending, ref)
	return w, 0, true
}

// run hands queued writes to write, one at a time, at the bucket's pace, until ctx is done.
func (q *statusQueue) run(ctx context.Context, write func(context.Context, statusWrite)) {
	for {
		w, wait, ok := q.take()
		if ok {
			write(ctx, w)
			continue
		}
		var after <-chan time.Time
		if wait > 0 {
			after = q.clock.After(wait)
		}
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		case <-after:
		}
	}
}
