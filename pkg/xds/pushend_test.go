package xds

import (
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// pushEndGen is a testGen that is a PushEnder and records what a push asked of it.
type pushEndGen struct {
	*testGen
	mu        sync.Mutex
	generated []string
	ends      int
	early     bool // a view was generated after PushEnded
}

func (g *pushEndGen) PushEnded() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ends++
}

// TestPushGeneratesViewsInKeyOrderThenEndsThePush: views that share a key prefix (a
// namespace's sidecars) are generated one after the other, so a generator can share
// their parts while they are, and PushEnded comes once, after every view of the push.
func TestPushGeneratesViewsInKeyOrderThenEndsThePush(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1)) // one worker: the order generated is the order dispatched
	gen := &pushEndGen{testGen: newTestGen()}
	s := NewServer(Options{Generator: gen})
	keys := []string{"sidecar|ns-b|app=x", "sidecar|ns-a|app=y", "gateway|ns-a|", "sidecar|ns-a|app=x", "sidecar|ns-b|app=y"}
	var views []*view
	for _, k := range keys {
		views = append(views, newView(k))
	}
	s.push("test", time.Now(), views, 0, func(v *view, _ *marshaler) viewResult {
		gen.mu.Lock()
		defer gen.mu.Unlock()
		gen.generated = append(gen.generated, v.key)
		gen.early = gen.early || gen.ends > 0
		return viewResult{}
	})
	want := slices.Sorted(slices.Values(keys))
	if !slices.Equal(gen.generated, want) || gen.ends != 1 || gen.early {
		t.Fatalf("generated %v, PushEnded %d times (early %v); want %v, then PushEnded once", gen.generated, gen.ends, gen.early, want)
	}
}
