package xds

import (
	"context"
	"time"
)

// run is the push loop. Pushes never overlap: only this goroutine generates
// and publishes snapshots.
//
// Debounce: the first Trigger of a burst arms a timer; every later Trigger
// moves it to DebounceQuiet from now, but never past DebounceMax after the
// burst's first Trigger. Triggers before SetReady only leave the dirty mark,
// which the ready push consumes.
func (s *Server) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	backoff := s.max

	// A view without any snapshot (its first Generate failed) leaves its
	// proxies with nothing at all, so it is retried with backoff instead of
	// waiting for the next Trigger.
	schedule := func(complete bool) {
		if complete {
			backoff = s.max
			retry.Stop()
			return
		}
		retry.Reset(backoff)
		backoff = min(2*backoff, time.Minute)
	}

	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			retry.Stop()
			return
		case <-s.readyCh:
			armed = false
			timer.Stop()
			s.firstTrigger.Store(0)
			schedule(s.pushAll("ready", time.Now()))
		case <-s.triggerCh:
			if !s.ready.Load() {
				continue
			}
			first := s.firstTrigger.Load()
			if first == 0 {
				continue // already pushed by the ready push
			}
			wait := s.quiet
			if until := time.Until(time.Unix(0, first).Add(s.max)); until < wait {
				wait = max(until, 0)
			}
			armed = true
			timer.Reset(wait)
		case <-timer.C:
			if !armed {
				continue
			}
			armed = false
			first := s.firstTrigger.Swap(0)
			triggered := time.Now()
			if first != 0 {
				triggered = time.Unix(0, first)
			}
			schedule(s.pushAll("trigger", triggered))
		case <-s.newViewCh:
			schedule(s.pushNew())
		case <-retry.C:
			schedule(s.pushNew())
		}
	}
}
