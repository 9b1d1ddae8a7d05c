package xds

import (
	"context"
	"sync/atomic"
	"time"
)

// debouncer turns a burst of triggers into one push: the first trigger of
// a burst arms a timer; every later one moves it to quiet from now, but
// never past max after the burst's first trigger.
type debouncer struct {
	quiet, max time.Duration
	first      atomic.Int64 // unix nanos of the first trigger not yet pushed; 0 = none
	ch         chan struct{}
	timer      *time.Timer
	armed      bool // owned by the push loop
}

func newDebouncer(quiet, max time.Duration) *debouncer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &debouncer{quiet: quiet, max: max, ch: make(chan struct{}, 1), timer: t}
}

// trigger may be called from any goroutine.
func (d *debouncer) trigger() {
	d.first.CompareAndSwap(0, time.Now().UnixNano())
	poke(d.ch)
}

// arm (re)starts the timer after a trigger. Push loop only.
func (d *debouncer) arm() {
	first := d.first.Load()
	if first == 0 {
		return // already pushed by an earlier push
	}
	wait := d.quiet
	if until := time.Until(time.Unix(0, first).Add(d.max)); until < wait {
		wait = max(until, 0)
	}
	d.armed = true
	d.timer.Reset(wait)
}

// fire consumes the burst when the timer went off, returning when its
// first trigger came. Push loop only.
func (d *debouncer) fire() (triggered time.Time, ok bool) {
	if !d.armed {
		return time.Time{}, false
	}
	d.armed = false
	triggered = time.Now()
	if first := d.first.Swap(0); first != 0 {
		triggered = time.Unix(0, first)
	}
	return triggered, true
}

// postpone fires the timer again after wait, unless the burst is already
// max old. Push loop only.
func (d *debouncer) postpone(wait time.Duration) bool {
	first := d.first.Load()
	if !d.armed || first == 0 || time.Since(time.Unix(0, first)) >= d.max {
		return false
	}
	d.timer.Reset(wait)
	return true
}

// reset drops a pending burst (a push covering it is about to run).
func (d *debouncer) reset() {
	d.armed = false
	d.timer.Stop()
	d.first.Store(0)
}

// run is the push loop. Pushes never overlap: only this goroutine generates
// and publishes snapshots. Triggers before SetReady only leave the dirty
// mark, which the ready push consumes. Endpoint bursts have their own,
// shorter window: their push only replaces ClusterLoadAssignments, and the
// full push they also triggered follows on the full window, once the
// endpoint push is delivered (or the full window's max has passed).
func (s *Server) run(ctx context.Context) {
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	backoff := s.full.max
	sweep := time.NewTimer(time.Hour) // drops idle views once their grace period is over
	sweep.Stop()
	sweepArmed := false

	// A view without any snapshot (its first Generate failed) leaves its
	// proxies with nothing at all, so it is retried with backoff instead of
	// waiting for the next Trigger.
	schedule := func(complete bool) {
		if complete {
			backoff = s.full.max
			retry.Stop()
			return
		}
		retry.Reset(backoff)
		backoff = min(2*backoff, time.Minute)
	}

	for {
		select {
		case <-ctx.Done():
			s.full.timer.Stop()
			s.endpoints.timer.Stop()
			retry.Stop()
			sweep.Stop()
			return
		case <-s.readyCh:
			s.full.reset()
			s.endpoints.reset()
			schedule(s.pushAll("ready", time.Now()))
		case <-s.full.ch:
			if s.ready.Load() {
				s.full.arm()
			}
		case <-s.endpoints.ch:
			if s.ready.Load() {
				s.endpoints.arm()
			}
		case <-s.full.timer.C:
			// A full push started while an endpoint push is still being
			// delivered would take the CPU its last proxies wait for.
			if s.lastEndpointPush.Load().converging() && s.full.postpone(5*time.Millisecond) {
				continue
			}
			if triggered, ok := s.full.fire(); ok {
				schedule(s.pushAll("trigger", triggered))
			}
		case <-s.endpoints.timer.C:
			if triggered, ok := s.endpoints.fire(); ok {
				s.pushEndpoints(triggered)
			}
		case <-s.newViewCh:
			schedule(s.pushNew())
		case <-retry.C:
			schedule(s.pushNew())
		case <-s.idleCh:
			if !sweepArmed {
				sweepArmed = true
				sweep.Reset(s.grace)
			}
		case <-sweep.C:
			sweepArmed = false
			if next := s.dropIdleViews(time.Now()); next > 0 {
				sweepArmed = true
				sweep.Reset(next)
			}
		}
	}
}
