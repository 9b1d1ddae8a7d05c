package xds

import (
	"sync"
	"sync/atomic"
	"time"
)

// view is the resources one group of proxies sees (all nodes with the same
// view key) and the streams currently watching it.
type view struct {
	key string
	// idleSince is when the last stream closed (zero while streams are
	// attached); guarded by Server.mu.
	idleSince time.Time
	// gone is set once the server dropped the view: a push that still
	// holds it discards its result.
	gone atomic.Bool
	// failed is set while the view's last generation failed: it serves an older
	// config, so every push regenerates it.
	failed atomic.Bool

	mu      sync.Mutex
	snap    *snapshot // nil until first generated
	streams map[*stream]struct{}
	// diffs caches diffSnapshots(base, snap) for streams that skipped
	// snapshots, keyed by the base's seq; reset on publish.
	diffs map[uint64]*lazyDiff
}

type lazyDiff struct {
	once sync.Once
	d    map[string]*typeChange
}

func newView(key string) *view {
	return &view{key: key, streams: map[*stream]struct{}{}}
}

// current returns the published snapshot and hands the stream the push
// records that arrived with it; both are read under one lock so responses
// are attributed to the push that caused them.
func (v *view) current(st *stream) (*snapshot, []*pushRecord) {
	v.mu.Lock()
	defer v.mu.Unlock()
	recs := st.inbox
	st.inbox = nil
	return v.snap, recs
}

func (v *view) snapshot() *snapshot {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.snap
}

// publish installs a new snapshot and wakes every stream of the view. rec may
// be nil (pushes that are not measured).
func (v *view) publish(s *snapshot, rec *pushRecord) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.snap != nil {
		s.seq = v.snap.seq + 1
	} else {
		s.seq = 1
	}
	v.snap = s
	v.diffs = nil
	for st := range v.streams {
		if rec != nil {
			rec.add(1)
			st.inbox = append(st.inbox, rec)
		}
		st.wake()
	}
	return len(v.streams)
}

// changesSince says what changed between base and cur. It returns all=true
// when the stream has never been sent anything (everything is new).
func (v *view) changesSince(base, cur *snapshot) (changes map[string]*typeChange, all bool) {
	switch {
	case base == nil:
		return nil, true
	case base == cur:
		return nil, false
	case cur.parent == base.seq:
		return cur.changes, false
	}
	v.mu.Lock()
	if v.snap != cur {
		// A newer snapshot was published meanwhile; do not cache against it.
		v.mu.Unlock()
		return diffSnapshots(base, cur), false
	}
	if v.diffs == nil {
		v.diffs = map[uint64]*lazyDiff{}
	}
	ld := v.diffs[base.seq]
	if ld == nil {
		ld = &lazyDiff{}
		v.diffs[base.seq] = ld
	}
	v.mu.Unlock()
	ld.once.Do(func() { ld.d = diffSnapshots(base, cur) })
	return ld.d, false
}

// typeSet returns the current snapshot's resources of a type (nil if none).
func (v *view) typeSet(typeURL string) *typeSet {
	if s := v.snapshot(); s != nil {
		return s.types[typeURL]
	}
	return nil
}

func (v *view) add(st *stream) {
	v.mu.Lock()
	v.streams[st] = struct{}{}
	v.mu.Unlock()
}

// remove detaches a stream and returns the push records it still held and
// whether the view has no streams left.
func (v *view) remove(st *stream) ([]*pushRecord, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.streams, st)
	recs := st.inbox
	st.inbox = nil
	return recs, len(v.streams) == 0
}
