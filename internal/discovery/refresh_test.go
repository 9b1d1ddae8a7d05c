package discovery

import (
	"context"
	"testing"
	"time"
)

func TestModelRefresherRebuildsAfterEachBurst(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := newModelRefresher()
	r.quiet, r.wait = time.Millisecond, 50*time.Millisecond
	rebuilds := make(chan struct{}, 10)
	go r.run(ctx, func(context.Context) { rebuilds <- struct{}{} })
	waitRebuild := func(what string) {
		t.Helper()
		select {
		case <-rebuilds:
		case <-time.After(30 * time.Second):
			t.Fatalf("no rebuild after %s", what)
		}
	}
	for range 3 {
		r.changed()
	}
	waitRebuild("a burst of changes")
	r.changed()
	waitRebuild("a later change")
}
