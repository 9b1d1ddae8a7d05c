package benchkit

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

func TestParallelRunsEveryIndexOnce(t *testing.T) {
	seen := make([]atomic.Int32, 100)
	if err := Parallel(context.Background(), len(seen), 7, func(_ context.Context, i int) error { seen[i].Add(1); return nil }); err != nil {
		t.Fatal(err)
	}
	for i := range seen {
		if n := seen[i].Load(); n != 1 {
			t.Errorf("index %d ran %d times", i, n)
		}
	}
}

func TestParallelStopsAtTheFirstError(t *testing.T) {
	boom := errors.New("boom")
	var ran atomic.Int32
	err := Parallel(context.Background(), 1000, 2, func(_ context.Context, i int) error {
		ran.Add(1)
		if i == 3 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Parallel = %v, want %v", err, boom)
	}
	if ran.Load() >= 1000 {
		t.Error("Parallel went on after the error")
	}
}

func TestParallelReportsACancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Parallel(ctx, 10, 2, func(context.Context, int) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Parallel on a cancelled context = %v, want %v", err, context.Canceled)
	}
}
