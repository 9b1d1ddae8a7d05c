package discovery

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/kubernetes/fake"
)

// Only the replica holding the Lease writes; when it stops, another takes over.
func TestOneReplicaWritesStatus(t *testing.T) {
	client := fake.NewClientset()
	var mu sync.Mutex
	leading := map[string]bool{}
	leaders := func() []string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for id, ok := range leading {
			if ok {
				out = append(out, id)
			}
		}
		return out
	}
	start := func(id string) context.CancelFunc {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = runWhileLeading(ctx, client, "mesh", id, logr.Discard(), func(ctx context.Context) error {
				mu.Lock()
				leading[id] = true
				mu.Unlock()
				<-ctx.Done()
				mu.Lock()
				leading[id] = false
				mu.Unlock()
				return nil
			})
		}()
		return func() { cancel(); <-done }
	}
	stopA := start("a")
	waitUntil(t, "a to lead", func() bool { l := leaders(); return len(l) == 1 && l[0] == "a" })
	stopB := start("b")
	defer stopB()
	time.Sleep(3 * time.Second) // more than a retry period
	if l := leaders(); len(l) != 1 || l[0] != "a" {
		t.Fatalf("leaders %v while a holds the Lease, want only a", l)
	}
	stopA() // releases the Lease
	deadline := time.Now().Add(20 * time.Second)
	for l := leaders(); len(l) != 1 || l[0] != "b"; l = leaders() {
		if time.Now().After(deadline) {
			t.Fatalf("b did not take over: leaders %v", l)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
