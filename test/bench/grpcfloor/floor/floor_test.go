package floor

import (
	"context"
	"fmt"
	"math"
	"os"
	"testing"
	"time"
)

// TestMain lets Run start this test binary as the floor's server and client
// processes, as it starts the grpcfloor binary.
func TestMain(m *testing.M) {
	if role, err := RunRole(os.Args[1:]); role {
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRun runs both processes at a tiny scale and checks that every client
// got the cold bytes and every change: the byte counts are checked by Run
// itself, so this asserts the shape of the result. No timing is asserted.
func TestRun(t *testing.T) {
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		conns int
		ex    Exchange
	}{
		{0, Exchange{ColdBytes: 3000}},
		{3, Exchange{ColdBytes: 3000}},
		{0, Exchange{ColdBytes: 3001, Responses: 4, Requests: 9, RequestBytes: 900}}, // an xDS client's rounds
	} {
		t.Run(fmt.Sprintf("conns=%d,responses=%d", c.conns, c.ex.Responses), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			o := Options{Binary: bin, Clients: 7, Conns: c.conns, Exchange: c.ex, ChangeBytes: 500, Changes: 2,
				SyncTimeout: time.Minute, ChangeTimeout: time.Minute, LogDir: t.TempDir()}
			r, err := Run(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.ColdClientS) != o.Clients || r.Changes != o.Changes || len(r.ChangeLatenciesMs) != o.Clients*o.Changes || len(r.ChangeLastMs) != o.Changes {
				t.Fatalf("got %d cold-sync times, %d changes, %d change latencies, %d last-client latencies; want %d, %d, %d, %d",
					len(r.ColdClientS), r.Changes, len(r.ChangeLatenciesMs), len(r.ChangeLastMs), o.Clients, o.Changes, o.Clients*o.Changes, o.Changes)
			}
			for _, s := range r.ColdClientS {
				if s <= 0 || s > r.ColdSyncS {
					t.Errorf("a client's cold sync %v s is not within (0, %v]", s, r.ColdSyncS)
				}
			}
		})
	}
}

// TestRunWithoutChanges measures the cold sync alone; the per-change
// figures are NaN, not a division by zero.
func TestRunWithoutChanges(t *testing.T) {
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := Run(ctx, Options{Binary: bin, Clients: 2, Exchange: Exchange{ColdBytes: 10}, Changes: 5, SyncTimeout: time.Minute, ChangeTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if r.Changes != 0 || !math.IsNaN(r.ChangeP(99)) || !math.IsNaN(r.ChangeServerCPUPerChange()) {
		t.Fatalf("changes %d, p99 %v, CPU per change %v: want 0 changes and NaN figures", r.Changes, r.ChangeP(99), r.ChangeServerCPUPerChange())
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	for _, o := range []Options{
		{Clients: 1, Exchange: Exchange{ColdBytes: 1}},
		{Binary: "x", Clients: 0, Exchange: Exchange{ColdBytes: 1}},
		{Binary: "x", Clients: 1, Exchange: Exchange{ColdBytes: 0}},
		{Binary: "x", Clients: 1, Exchange: Exchange{ColdBytes: 1}, ChangeBytes: -1},
		{Binary: "x", Clients: 1, Exchange: Exchange{ColdBytes: 3, Responses: 4}},
		{Binary: "x", Clients: 1, Exchange: Exchange{ColdBytes: 3, Requests: -1}},
	} {
		if _, err := Run(context.Background(), o); err == nil {
			t.Errorf("Run(%+v) succeeded", o)
		}
	}
}

func TestPercentile(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3}
	for q, want := range map[float64]float64{0: 1, 50: 3, 99: 5, 100: 5} {
		if got := Percentile(xs, q); got != want {
			t.Errorf("p%v = %v, want %v", q, got, want)
		}
	}
	if got := Percentile(nil, 50); !math.IsNaN(got) {
		t.Errorf("p50 of nothing = %v, want NaN", got)
	}
}
