package xds

import (
	"sync/atomic"
	"time"
)

// pushRecord measures convergence of one push: the time from the Trigger
// that started it until every stream it touched has answered every response
// caused by it.
//
// outstanding counts units of work still open:
//   - 1 held by the dispatcher until all views are published,
//   - 1 per stream woken, released once the stream has computed its
//     responses from the new snapshot (or closed),
//   - 1 per response sent to a stream, released when the stream ACKs or NACKs
//     that response or a later one of the same type, or closes.
//
// When it reaches zero the push has converged. A stream that coalesces two
// pushes answers both with the same responses. A push that sent nothing is
// not observed (nothing had to converge).
type pushRecord struct {
	seq       uint64
	triggered time.Time
	onDone    func(r *pushRecord, at time.Time)

	outstanding atomic.Int64
	responses   atomic.Int64
	nacked      atomic.Bool
	closed      atomic.Bool // some stream closed before answering
	trace       *pushTrace  // nil: not traced
}

func newPushRecord(seq uint64, triggered time.Time, onDone func(*pushRecord, time.Time)) *pushRecord {
	r := &pushRecord{seq: seq, triggered: triggered, onDone: onDone}
	r.outstanding.Store(1)
	return r
}

func (r *pushRecord) add(n int64) { r.outstanding.Add(n) }

// sent registers one response caused by this push.
func (r *pushRecord) sent() {
	r.responses.Add(1)
	r.outstanding.Add(1)
}

// done releases one unit.
func (r *pushRecord) done() {
	if r.outstanding.Add(-1) == 0 {
		r.onDone(r, time.Now())
	}
}

// converging reports whether the push is still being delivered.
func (r *pushRecord) converging() bool { return r != nil && r.outstanding.Load() > 0 }

func (r *pushRecord) answered(nack bool) {
	if nack {
		r.nacked.Store(true)
	}
	r.done()
}

func (r *pushRecord) abandoned() {
	r.closed.Store(true)
	r.done()
}

func (r *pushRecord) result() string {
	switch {
	case r.nacked.Load():
		return "nacked"
	case r.closed.Load():
		return "disconnected"
	default:
		return "acked"
	}
}

func releaseAll(recs []*pushRecord) {
	for _, r := range recs {
		r.done()
	}
}
