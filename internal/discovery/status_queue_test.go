package discovery

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	metav1alpha1 "istio.io/api/meta/v1alpha1"
	clocktesting "k8s.io/utils/clock/testing"

	"loom.dev/loom/pkg/model"
)

func vsRef(name string) model.ConfigRef {
	return model.ConfigRef{Kind: "VirtualService", Namespace: "web", Name: name}
}

func TestStatusQueueCoalescesPerObject(t *testing.T) {
	q := newStatusQueue(clocktesting.NewFakeClock(time.Unix(0, 0)), 20, 20)
	for gen := int64(1); gen <= 3; gen++ {
		q.add(statusWrite{ref: vsRef("a"), status: &metav1alpha1.IstioStatus{ObservedGeneration: gen}})
		q.add(statusWrite{ref: vsRef("b"), status: &metav1alpha1.IstioStatus{ObservedGeneration: gen}})
	}
	if q.len() != 2 {
		t.Fatalf("queued %d writes, want one per object", q.len())
	}
	for _, want := range []string{"a", "b"} {
		w, _, ok := q.take()
		if !ok || w.ref != vsRef(want) || w.status.GetObservedGeneration() != 3 {
			t.Fatalf("take = %v %v (ok %v), want %s at its latest generation 3, in first-queued order", w.ref, w.status, ok, want)
		}
	}
	if _, wait, ok := q.take(); ok || wait != 0 {
		t.Fatalf("an empty queue handed out a write or asked to wait %v", wait)
	}
	q.add(statusWrite{ref: vsRef("c")})
	q.drop(vsRef("c"))
	if _, _, ok := q.take(); ok {
		t.Fatal("a dropped write was handed out")
	}
}

func TestStatusQueueRateLimits(t *testing.T) {
	clock := clocktesting.NewFakeClock(time.Unix(0, 0))
	q := newStatusQueue(clock, 20, 20)
	for i := range 100 {
		q.add(statusWrite{ref: vsRef(fmt.Sprint(i))})
	}
	taken := 0
	for {
		_, wait, ok := q.take()
		if !ok {
			if wait != 50*time.Millisecond {
				t.Fatalf("after the burst, wait %v for the next token, want 50ms at 20/s", wait)
			}
			break
		}
		taken++
	}
	if taken != 20 {
		t.Fatalf("%d writes at once, want the burst of 20", taken)
	}
	clock.Step(time.Second)
	for {
		if _, _, ok := q.take(); !ok {
			break
		}
		taken++
	}
	if taken != 40 {
		t.Fatalf("%d writes after one more second, want 40 (20/s)", taken)
	}
	// An idle bucket fills up to the burst, not beyond.
	clock.Step(time.Hour)
	for {
		if _, _, ok := q.take(); !ok {
			break
		}
		taken++
	}
	if taken != 60 {
		t.Fatalf("%d writes after an hour idle, want 60 (the burst caps the bucket)", taken)
	}
}

func TestStatusQueueRunWaitsForTokens(t *testing.T) {
	clock := clocktesting.NewFakeClock(time.Unix(0, 0))
	q := newStatusQueue(clock, 10, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var written []string
	go q.run(ctx, func(_ context.Context, w statusWrite) {
		mu.Lock()
		written = append(written, w.ref.Name)
		mu.Unlock()
	})
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(written) }
	q.add(statusWrite{ref: vsRef("a")})
	q.add(statusWrite{ref: vsRef("b")})
	waitUntil(t, "the first write", func() bool { return count() == 1 })
	waitUntil(t, "run to wait on the clock", clock.HasWaiters)
	if count() != 1 {
		t.Fatal("the second write did not wait for a token")
	}
	clock.Step(100 * time.Millisecond)
	waitUntil(t, "the second write once a token is back", func() bool { return count() == 2 })
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
