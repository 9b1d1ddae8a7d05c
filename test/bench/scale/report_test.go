package main

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"loom.dev/loom/test/bench/grpcfloor/floor"
)

// fakeRun is a completed run with the figures the targets read.
func fakeRun(name string, coldS, coldCPUS float64, vsMs, epMs []float64, rssMB int64) *runResult {
	changes := func(ms []float64) changeStats {
		c := changeStats{latenciesMs: ms, bytes: int64(len(ms)) * 1000}
		if len(ms) > 0 {
			c.changes = 1
		}
		return c
	}
	return &runResult{name: name, coldSyncS: coldS, coldSyncCPUS: coldCPUS, vs: changes(vsMs), ep: changes(epMs), peakRSS: rssMB * 1e6, synced: 2, coldSyncBytes: 2000}
}

func fakeFloor(coldS, serverCPUS float64, changeMs []float64) *floor.Result {
	r := &floor.Result{Clients: 2, ColdBytes: 1000, ChangeBytes: 500, ColdSyncS: coldS, ColdServerCPUS: serverCPUS, ChangeLatenciesMs: changeMs}
	if len(changeMs) > 0 {
		r.Changes = 1
	}
	return r
}

func TestTargets(t *testing.T) {
	cases := []struct {
		name  string
		f     figures
		lines []string // every target line, in order
	}{{
		name: "every target met",
		f: figures{
			loom:   fakeRun("loom", 1.0, 3.0, []float64{300, 330}, nil, 250),
			delta:  fakeRun("loom_delta", 1.1, 3.1, nil, []float64{50, 90}, 240),
			istiod: fakeRun("istiod", 12, 20, []float64{3500}, []float64{400}, 560),
			floor:  fakeFloor(0.8, 2.5, []float64{290, 300}), loomPeakRSS: 250e6,
		},
		lines: []string{
			"target VirtualService change p99 less debounce <= 1.3x floor's MET          (0.77x: loom less its debounce 230 ms / floor 300 ms)",
			"target VirtualService change p99 >= 10x better than istiod's   MET          (10.61x: istiod 3500 ms / loom 330 ms)",
			"target cold sync >= 10x faster than istiod                     MET          (12.00x: istiod 12.00 s / loom 1.00 s)",
			"target CPU per cold sync <= 1.5x the gRPC floor server's       MET          (1.20x: loom 3.00 CPU s / floor server 2.50 CPU s)",
			"target endpoint change p99 < 100 ms (delta)                    MET          (loom_delta 90 ms)",
			"target peak RSS < 300 MB                                       MET          (loom 250 MB)",
			"target peak RSS below istiod's                                 MET          (0.45x: loom 250 MB / istiod 560 MB)",
		},
	}, {
		name: "missed, and istiod not run: its ratios are not measured",
		f: figures{
			loom:  fakeRun("loom", 1.0, 2.3, []float64{500}, nil, 320),
			delta: fakeRun("loom_delta", 1.1, 3.1, nil, []float64{120}, 240),
			floor: fakeFloor(0.8, 1.0, []float64{300}), loomPeakRSS: 320e6,
		},
		lines: []string{
			"target VirtualService change p99 less debounce <= 1.3x floor's MISSED       (1.33x: loom less its debounce 400 ms / floor 300 ms)",
			"target VirtualService change p99 >= 10x better than istiod's   not measured (istiod not run)",
			"target cold sync >= 10x faster than istiod                     not measured (istiod not run)",
			"target CPU per cold sync <= 1.5x the gRPC floor server's       MISSED       (2.30x: loom 2.30 CPU s / floor server 1.00 CPU s)",
			"target endpoint change p99 < 100 ms (delta)                    MISSED       (loom_delta 120 ms)",
			"target peak RSS < 300 MB                                       MISSED       (loom 320 MB)",
			"target peak RSS below istiod's                                 not measured (istiod not run)",
		},
	}, {
		name: "no change ran, the floor's server CPU too small to measure",
		f: figures{
			loom:   fakeRun("loom", 1.0, 0.5, nil, nil, 100),
			delta:  fakeRun("loom_delta", 1.0, 0.5, nil, nil, 100),
			istiod: fakeRun("istiod", 5, 9, nil, nil, 400),
			floor:  fakeFloor(0.5, 0, nil), loomPeakRSS: 100e6,
		},
		lines: []string{
			"target VirtualService change p99 less debounce <= 1.3x floor's not measured (no change measured)",
			"target VirtualService change p99 >= 10x better than istiod's   not measured (no change measured)",
			"target cold sync >= 10x faster than istiod                     MISSED       (5.00x: istiod 5.00 s / loom 1.00 s)",
			"target CPU per cold sync <= 1.5x the gRPC floor server's       not measured (floor server's figure is 0, too small to measure)",
			"target endpoint change p99 < 100 ms (delta)                    not measured (no change measured)",
			"target peak RSS < 300 MB                                       MET          (loom 100 MB)",
			"target peak RSS below istiod's                                 MET          (0.25x: loom 100 MB / istiod 400 MB)",
		},
	}, {
		name: "loom failed: nothing to judge",
		f:    figures{istiod: fakeRun("istiod", 5, 9, []float64{1}, []float64{1}, 400)},
		lines: []string{
			"target VirtualService change p99 less debounce <= 1.3x floor's not measured (loom did not run)",
			"target VirtualService change p99 >= 10x better than istiod's   not measured (loom did not run)",
			"target cold sync >= 10x faster than istiod                     not measured (loom did not run)",
			"target CPU per cold sync <= 1.5x the gRPC floor server's       not measured (loom did not run)",
			"target endpoint change p99 < 100 ms (delta)                    not measured (delta not run)",
			"target peak RSS < 300 MB                                       not measured (loom did not run)",
			"target peak RSS below istiod's                                 not measured (loom did not run)",
		},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, x := range targetsFor(c.f) {
				got = append(got, x.line())
			}
			if strings.Join(got, "\n") != strings.Join(c.lines, "\n") {
				t.Errorf("targets:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.lines, "\n"))
			}
		})
	}
}

func TestRatios(t *testing.T) {
	f := figures{
		loom:  fakeRun("loom", 2.0, 3.0, []float64{400}, nil, 250),
		base:  fakeRun("baseline", 20, 30, []float64{900}, nil, 500),
		floor: fakeFloor(1.6, 2.0, []float64{320}), floorOneMessage: fakeFloor(1.0, 1.0, nil), loomPeakRSS: 250e6,
	}
	want := []string{
		"cold_sync_ratio_vs_floor: 1.25 (loom 2.00 s / floor 1.60 s)",
		"cold_sync_speedup_vs_istiod: not measured (istiod not run)",
		"cold_sync_speedup_vs_baseline: 10.00 (baseline 20.00 s / loom 2.00 s)",
		"vs_change_p99_ratio_vs_floor: 1.25 (loom 400 ms / floor 320 ms)",
		"vs_change_p99_less_debounce_ratio_vs_floor: 0.94 (loom less its debounce 300 ms / floor 320 ms)",
		"vs_change_p99_speedup_vs_istiod: not measured (istiod not run)",
		"cold_sync_cpu_ratio_vs_floor: 1.50 (loom 3.00 CPU s / floor server 2.00 CPU s)",
		"cold_sync_cpu_ratio_vs_one_message_floor: 3.00 (loom 3.00 CPU s / one-message floor server 1.00 CPU s)",
		"peak_rss_ratio_vs_istiod: not measured (istiod not run)",
	}
	var got []string
	for _, x := range ratiosFor(f) {
		got = append(got, x.line())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("ratios:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	f.floor, f.floorOneMessage = nil, nil
	for _, x := range ratiosFor(f) {
		if strings.HasSuffix(x.key, "floor") && (x.known || x.why != "gRPC floor not measured") {
			t.Errorf("without a floor: %s", x.line())
		}
	}
}

// TestReportJSONWithoutChanges: a run with no change gives nulls, not
// divisions by zero, and unmeasured ratios and targets are null too.
func TestReportJSONWithoutChanges(t *testing.T) {
	o := defaultOptions()
	o.changes = 0
	loom := fakeRun("loom", 1, 1, nil, nil, 100)
	rep := &report{opts: o, runs: []*runResult{loom}, floor: fakeFloor(0.5, 0.5, nil)}
	line, err := json.Marshal(rep.json())
	if err != nil {
		t.Fatal(err)
	}
	var j map[string]any
	if err := json.Unmarshal(line, &j); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"loom_vs_change_mb", "loom_vs_change_cpu_s", "loom_ep_change_clients_cpu_s", "loom_vs_change_p99_ms",
		"floor_vs_change_p99_ms", "floor_vs_change_server_cpu_s", "vs_change_p99_ratio_vs_floor", "cold_sync_speedup_vs_istiod"} {
		if v, ok := j[k]; !ok || v != nil {
			t.Errorf("%s = %v (present %v), want null", k, v, ok)
		}
	}
	if j["cold_sync_ratio_vs_floor"] != 2.0 {
		t.Errorf("cold_sync_ratio_vs_floor = %v, want 2", j["cold_sync_ratio_vs_floor"])
	}
	met := j["targets_met"].(map[string]any)
	if met["cold_sync_10x_istiod"] != nil || met["peak_rss_lt_300mb"] != true {
		t.Errorf("targets_met = %v", met)
	}
	var sb strings.Builder
	rep.printTable(&sb)
	if !strings.Contains(sb.String(), "grpc floor") || !strings.Contains(sb.String(), "cold_sync_speedup_vs_istiod: not measured (istiod not run)") {
		t.Errorf("table:\n%s", sb.String())
	}
}

func TestFloorExchange(t *testing.T) {
	if _, _, err := floorExchange(nil, 10); err == nil {
		t.Error("no loom run: want an error")
	}
	if _, _, err := floorExchange(&runResult{}, 10); err == nil {
		t.Error("no cold-sync bytes: want an error")
	}
	loom := &runResult{synced: 10, coldSyncBytes: 10_000, coldSyncResponses: 43, coldSyncRequests: 86, coldSyncRequestBytes: 5004,
		vs: changeStats{changes: 5, bytes: 5000}}
	want := floor.Exchange{ColdBytes: 1000, Responses: 4, Requests: 9, RequestBytes: 500}
	if ex, change, err := floorExchange(loom, 10); err != nil || ex != want || change != 100 {
		t.Errorf("floorExchange = %+v, %d, %v; want %+v and 100 bytes per client per change", ex, change, err, want)
	}
	loom.vs = changeStats{}
	if _, change, err := floorExchange(loom, 10); err != nil || change != 0 {
		t.Errorf("no change ran: change bytes %d, %v; want 0", change, err)
	}
	loom.coldSyncResponses, loom.coldSyncRequests = 0, 0 // counters not reported: one request, one message
	if ex, _, _ := floorExchange(loom, 10); ex.Responses != 1 || ex.Requests != 1 {
		t.Errorf("without message counts: %+v, want one response and one request", ex)
	}
	if !math.IsNaN(changeStats{}.mean(1)) {
		t.Error("mean of no change is not NaN")
	}
}
