package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// testLog sends the driver's progress to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestTinyScale runs the whole benchmark at a tiny scale (loom SotW and
// delta, the go-control-plane baseline, loom again with AuthorizationPolicies
// in place, and the gRPC floor; no istiod) so it
// keeps working. It asserts correctness only: every client got its full
// config and saw every change, and the floor sent loom's bytes to every
// client. No timing is asserted.
func TestTinyScale(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a local apiserver and three control planes")
	}
	o := defaultOptions()
	o.services, o.clients, o.changes = 20, 10, 2
	o.authzPolicies = 40
	o.peers = []string{"baseline"}
	o.settle = 200 * time.Millisecond
	o.syncTimeout, o.changeTimeout = time.Minute, 30*time.Second
	o.log = testLog{t}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rep, err := run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(rep.runs); got != 5 {
		t.Fatalf("%d runs, want loom, loom_delta, baseline, loom_authz and loom_delta_authz", got)
	}
	for _, r := range rep.runs {
		if r.synced != o.clients {
			t.Errorf("%s: %d of %d clients got their full config", r.name, r.synced, o.clients)
		}
		for kind, c := range map[string]changeStats{"VirtualService": r.vs, "endpoint": r.ep} {
			if c.changes != o.changes || c.missed != 0 || len(c.latenciesMs) != o.changes*o.clients {
				t.Errorf("%s: %s changes: %d made, %d client-changes missed, %d seen; want %d made, every client seeing each",
					r.name, kind, c.changes, c.missed, len(c.latenciesMs), o.changes)
			}
		}
		if r.streamErrors != 0 {
			t.Errorf("%s: %d stream errors", r.name, r.streamErrors)
		}
		if r.peakRSS == 0 || r.cpuS == 0 || r.bytes == 0 {
			t.Errorf("%s: process figures missing: rss %d cpu %v bytes %d", r.name, r.peakRSS, r.cpuS, r.bytes)
		}
	}
	checkWorkloadProxies(t, rep, o)
	if f := rep.floor; f == nil || f.Clients != o.clients || f.Changes != o.changes || len(f.ChangeLatenciesMs) != o.changes*o.clients {
		t.Errorf("gRPC floor: %+v, want %d clients and %d changes seen by each", f, o.clients, o.changes)
	} else if ex, change, _ := floorExchange(rep.run("loom"), o.clients); f.Exchange != ex || f.ChangeBytes != change || ex.Responses < 4 || ex.Requests < 4 {
		t.Errorf("gRPC floor's exchange %+v and %d bytes per change per client; loom's %+v and %d (an xDS cold sync is 4 responses and requests at least)",
			f.Exchange, f.ChangeBytes, ex, change)
	}
	if f := rep.floorOneMessage; rep.floor != nil && (f == nil || f.Exchange.Responses != 0 || f.ColdBytes != rep.floor.ColdBytes || f.Changes != 0) {
		t.Errorf("gRPC floor, one message: %+v, want loom's cold bytes as one message and no change", f)
	}
	line, err := json.Marshal(rep.json())
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(line, &back); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"loom_cold_sync_s", "loom_vs_change_p99_ms", "loom_delta_ep_change_p99_ms", "loom_peak_rss_mb",
		"baseline_cold_sync_s", "cold_sync_speedup_vs_baseline", "floor_cold_sync_s", "floor_vs_change_p99_ms",
		"cold_sync_ratio_vs_floor", "vs_change_p99_ratio_vs_floor", "vs_change_p99_less_debounce_ratio_vs_floor", "cold_sync_cpu_ratio_vs_one_message_floor", "targets_met",
		"loom_authz_cold_sync_s", "loom_delta_authz_vs_change_p99_ms", "loom_authz_cold_sync_ratio", "loom_delta_authz_ep_change_p99_ratio",
		"loom_authz_client_bytes_per_proxy_ratio", "loom_authz_workload_bytes_per_proxy_ratio", "loom_authz_authz_change_p99_ms",
		"loom_authz_vs_change_p99_with_workloads_ratio", "loom_authz_workloads_peak_rss_mb"} {
		if back[k] == nil {
			t.Errorf("JSON line lacks %s: %s", k, line)
		}
	}
	rep.printTable(testLog{t})
}

// checkWorkloadProxies: loom measured the workload proxies without the
// policies and loom_authz with them; with them every generated policy is in
// some proxy's RBAC filters, every proxy has an HTTP RBAC filter (the
// workloads are servers), the config grew, and every affected proxy ACKed
// every policy change.
func checkWorkloadProxies(t *testing.T, rep *report, o options) {
	t.Helper()
	without, with := rep.run("loom"), rep.run("loom_authz")
	if without == nil || with == nil || without.workloads == nil || with.workloads == nil {
		t.Fatalf("workload proxies not measured in loom and loom_authz")
	}
	want := len(authzWorkloads(o.authzPolicies))
	for _, x := range []*runResult{without, with} {
		if s := x.workloads; s.proxies != want || s.synced != want || x.workloadsErr != nil {
			t.Errorf("%s: %d of %d workload proxies synced (want %d): %v", x.name, s.synced, s.proxies, want, x.workloadsErr)
		}
	}
	for _, x := range []*runResult{without, with} {
		if v := x.workloads.vs; v.changes != o.changes || v.missed != 0 {
			t.Errorf("%s: %d VirtualService changes with the workload proxies, %d client-changes missed; want %d, none missed", x.name, v.changes, v.missed, o.changes)
		}
	}
	s := with.workloads
	if s.policiesTotal != o.authzPolicies || s.policiesSeen != s.policiesTotal || s.httpRBAC != want {
		t.Errorf("loom_authz: %d of %d policies in the workload proxies' RBAC filters, %d of %d proxies with an HTTP RBAC filter; want all",
			s.policiesSeen, s.policiesTotal, s.httpRBAC, want)
	}
	if without.workloads.policiesSeen != 0 || without.workloads.httpRBAC != 0 {
		t.Errorf("loom (no policies): %d policies, %d HTTP RBAC filters in the workload proxies' config", without.workloads.policiesSeen, without.workloads.httpRBAC)
	}
	if s.bytesPerProxy <= without.workloads.bytesPerProxy {
		t.Errorf("workload proxies received %.0f bytes each with the policies, %.0f without", s.bytesPerProxy, without.workloads.bytesPerProxy)
	}
	if s.change.changes != authzChanges(o.changes) || s.change.missed != 0 || len(s.change.latenciesMs) == 0 {
		t.Errorf("loom_authz: %d policy changes, %d proxy-changes missed, %d seen; want %d changes, none missed", s.change.changes, s.change.missed, len(s.change.latenciesMs), authzChanges(o.changes))
	}
}
