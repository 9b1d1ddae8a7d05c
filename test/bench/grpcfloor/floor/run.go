package floor

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// Options are one floor measurement.
type Options struct {
	// Binary is a program that runs Serve when its first argument is
	// "serve" and RunClients when it is "clients" (test/bench/grpcfloor).
	Binary      string
	Clients     int
	Conns       int      // 0: one connection per client
	Exchange    Exchange // each client's cold sync
	ChangeBytes int      // pushed to every client per change; 0: no changes
	Changes     int
	// Settle is the pause after the cold sync and after each change.
	Settle, SyncTimeout, ChangeTimeout time.Duration
	// LogDir holds the processes' stderr (floor-server.log,
	// floor-clients.log); "" sends it to this process's stderr.
	LogDir string
}

// Result is what the floor took.
type Result struct {
	Clients, ColdBytes, ChangeBytes int
	Exchange                        Exchange
	ColdSyncS                       float64   // the clients start connecting -> the last has its cold bytes
	ColdClientS                     []float64 // per client, from the same start
	ColdServerCPUS                  float64
	ColdClientsCPUS                 float64
	Changes                         int       // pushes measured
	ChangeLatenciesMs               []float64 // per client per change: receipt - the push's start
	ChangeLastMs                    []float64 // per change: the last client's latency
	ChangeServerCPUS                float64   // all changes together
}

// ColdClientP is a percentile of the per-client cold-sync times, in seconds.
func (r *Result) ColdClientP(q float64) float64 { return Percentile(r.ColdClientS, q) }

// ChangeP is a percentile of the per-client change latencies, in ms; NaN if no change ran.
func (r *Result) ChangeP(q float64) float64 { return Percentile(r.ChangeLatenciesMs, q) }

// ChangeServerCPUPerChange is the server's CPU per change; NaN if no change ran.
func (r *Result) ChangeServerCPUPerChange() float64 {
	if r.Changes == 0 {
		return math.NaN()
	}
	return r.ChangeServerCPUS / float64(r.Changes)
}

// Run starts the server and the client process, measures the cold sync and
// then o.Changes pushes, and stops both.
func Run(ctx context.Context, o Options) (*Result, error) {
	switch {
	case o.Binary == "":
		return nil, fmt.Errorf("floor: no binary to run")
	case o.Clients < 1:
		return nil, fmt.Errorf("floor: clients must be at least 1, got %d", o.Clients)
	case o.Exchange.validate() != nil:
		return nil, fmt.Errorf("floor: %w", o.Exchange.validate())
	case o.ChangeBytes < 0 || o.Changes < 0:
		return nil, fmt.Errorf("floor: change bytes (%d) and changes (%d) cannot be negative", o.ChangeBytes, o.Changes)
	}
	srvLog, err := logSink(o.LogDir, "floor-server.log")
	if err != nil {
		return nil, err
	}
	srv, err := startProc("server", o.Binary, srvLog, append([]string{"serve"}, o.Exchange.args()...)...)
	if err != nil {
		_ = srvLog.Close()
		return nil, err
	}
	defer srv.stop()
	ready, err := srv.wait(ctx, evReady, 30*time.Second)
	if err != nil {
		return nil, err
	}
	clLog, err := logSink(o.LogDir, "floor-clients.log")
	if err != nil {
		return nil, err
	}
	cl, err := startProc("clients", o.Binary, clLog, append([]string{"clients", "--server", ready.Addr,
		"--clients", strconv.Itoa(o.Clients), "--conns", strconv.Itoa(o.Conns)}, o.Exchange.args()...)...)
	if err != nil {
		_ = clLog.Close()
		return nil, err
	}
	defer cl.stop()

	res := &Result{Clients: o.Clients, Exchange: o.Exchange, ColdBytes: o.Exchange.ColdBytes, ChangeBytes: o.ChangeBytes}
	started, err := cl.wait(ctx, evStarted, 30*time.Second)
	if err != nil {
		return nil, err
	}
	cpuStart, err := srv.cpu(ctx)
	if err != nil {
		return nil, err
	}
	cold, err := cl.wait(ctx, evReceived, o.SyncTimeout)
	if err != nil {
		return nil, fmt.Errorf("floor cold sync: %w", err)
	}
	cpuSynced, err := srv.cpu(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkReceipt(cold, 0, int64(o.Clients)*int64(o.Exchange.ColdBytes), o.Clients); err != nil {
		return nil, err
	}
	for _, t := range cold.Times {
		res.ColdClientS = append(res.ColdClientS, float64(t-started.T)/1e9)
	}
	res.ColdSyncS = slices.Max(res.ColdClientS)
	res.ColdServerCPUS = cpuSynced - cpuStart
	res.ColdClientsCPUS = cold.CPUSeconds

	want := int64(o.Clients) * int64(o.Exchange.ColdBytes)
	for seq := 1; seq <= o.Changes && o.ChangeBytes > 0; seq++ {
		sleep(ctx, o.Settle)
		before, err := srv.cpu(ctx)
		if err != nil {
			return nil, err
		}
		if err := srv.send(command{Cmd: cmdPush, Bytes: o.ChangeBytes}); err != nil {
			return nil, err
		}
		pushed, err := srv.wait(ctx, evPushed, 30*time.Second)
		if err != nil {
			return nil, err
		}
		got, err := cl.wait(ctx, evReceived, o.ChangeTimeout)
		if err != nil {
			return nil, fmt.Errorf("floor change %d (pushed to %d streams): %w", seq, pushed.Streams, err)
		}
		after, err := srv.cpu(ctx)
		if err != nil {
			return nil, err
		}
		want += int64(o.Clients) * int64(o.ChangeBytes)
		if err := checkReceipt(got, seq, want, o.Clients); err != nil {
			return nil, err
		}
		last := 0.0
		for _, t := range got.Times {
			ms := float64(t-pushed.T) / 1e6
			res.ChangeLatenciesMs = append(res.ChangeLatenciesMs, ms)
			last = max(last, ms)
		}
		res.ChangeLastMs = append(res.ChangeLastMs, last)
		res.ChangeServerCPUS += after - before
		res.Changes++
	}
	return res, nil
}

// checkReceipt makes sure every client got message seq and nothing else arrived.
func checkReceipt(e event, seq int, wantBytes int64, clients int) error {
	if e.Seq != seq || len(e.Times) != clients || e.Bytes != wantBytes {
		return fmt.Errorf("floor: expected message %d at %d clients, %d bytes in all; got message %d at %d clients, %d bytes",
			seq, clients, wantBytes, e.Seq, len(e.Times), e.Bytes)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// Percentile of xs (nearest rank); NaN when empty.
func Percentile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	rank := int(math.Ceil(q/100*float64(len(s)))) - 1
	return s[min(max(rank, 0), len(s)-1)]
}
