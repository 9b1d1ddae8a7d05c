package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"loom.dev/loom/test/bench/grpcfloor/floor"
)

type report struct {
	opts  options
	runs  []*runResult
	floor *floor.Result // loom's cold-sync exchange; nil: not measured (see floorErr)
	// floorOneMessage is the same cold-sync bytes as one message per client.
	floorOneMessage *floor.Result
	floorErr        error
}

func (r *report) run(name string) *runResult {
	for _, x := range r.runs {
		if x.name == name && x.err == nil {
			return x
		}
	}
	return nil
}

func mb(b int64) float64 { return float64(b) / 1e6 }

func (r *report) printTable(w io.Writer) {
	fmt.Fprintf(w, "\nscale benchmark: %d services x %d endpoints, %d ADS clients (%s), %d VirtualService + %d endpoint changes per run\n\n",
		r.opts.services, endpointsPer, r.opts.clients, connsText(r.opts), r.opts.changes, r.opts.changes)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	cols := []string{"", "startup s", "cold sync s", "client p50 s", "sync CPU s", "sync MB", "VS p50 ms", "VS p99 ms", "VS MB/chg", "EP p50 ms", "EP p99 ms", "EP MB/chg", "missed", "CPU s", "peak RSS MB", "clients CPU s", "other CPU s"}
	fmt.Fprintln(tw, strings.Join(cols, "\t")+"\t")
	for _, x := range r.runs {
		if x.err != nil {
			fmt.Fprintf(tw, "%s\tFAILED: %s\t\n", x.name, firstLine(x.err.Error()))
			continue
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.2f\t%.2f\t%.1f\t%.0f\t%.0f\t%.0f\t%.1f\t%.0f\t%.0f\t%.2f\t%d\t%.1f\t%.0f\t%.1f\t%.1f\t\n",
			x.name, x.startupS, x.coldSyncS, x.coldSyncClientP50, x.coldSyncCPUS, mb(x.coldSyncBytes),
			x.vs.p(50), x.vs.p(99), perChange(x.vs), x.ep.p(50), x.ep.p(99), perChange(x.ep),
			x.vs.missed+x.ep.missed, x.cpuS, mb(x.peakRSS), x.clientsCPUS, x.otherCPUS)
	}
	switch f := r.floor; {
	case r.floorErr != nil:
		fmt.Fprintf(tw, "grpc floor\tFAILED: %s\t\n", firstLine(r.floorErr.Error()))
	case f != nil:
		// Only the columns the floor measures: its CPU is the server's.
		fmt.Fprintf(tw, "grpc floor\t-\t%.2f\t%.2f\t%.1f\t%.0f\t%.0f\t%.0f\t%.1f\t-\t-\t-\t-\t-\t-\t%.1f\t-\t\n",
			f.ColdSyncS, f.ColdClientP(50), f.ColdServerCPUS, mb(int64(f.ColdBytes)*int64(f.Clients)),
			f.ChangeP(50), f.ChangeP(99), floorChangeMB(f), f.ColdClientsCPUS)
	}
	if f := r.floorOneMessage; f != nil {
		fmt.Fprintf(tw, "grpc floor, 1 msg\t-\t%.2f\t%.2f\t%.1f\t%.0f\t-\t-\t-\t-\t-\t-\t-\t-\t-\t%.1f\t-\t\n",
			f.ColdSyncS, f.ColdClientP(50), f.ColdServerCPUS, mb(int64(f.ColdBytes)*int64(f.Clients)), f.ColdClientsCPUS)
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	fs := r.figures()
	for _, x := range ratiosFor(fs) {
		fmt.Fprintln(w, x.line())
	}
	for _, t := range targetsFor(fs) {
		fmt.Fprintln(w, t.line())
	}
	for _, x := range r.runs {
		if len(x.vs.parts) > 0 {
			fmt.Fprintf(w, "%s VirtualService change, medians: %s\n", x.name, medianParts(x.vs.parts))
		}
		if len(x.ep.parts) > 0 {
			fmt.Fprintf(w, "%s endpoint change, medians: %s\n", x.name, medianParts(x.ep.parts))
		}
	}
	r.printAuthz(w)
	for _, x := range r.authzRatios() {
		fmt.Fprintln(w, x.line())
	}
}

func connsText(o options) string {
	if o.conns <= 0 || o.conns >= o.clients {
		return "one gRPC connection each"
	}
	return fmt.Sprintf("over %d gRPC connections", o.conns)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func perChange(c changeStats) float64 { return c.mean(mb(c.bytes)) }

// floorChangeMB is what one floor change sent to all clients; NaN if no change ran.
func floorChangeMB(f *floor.Result) float64 {
	if f.Changes == 0 {
		return math.NaN()
	}
	return mb(int64(f.ChangeBytes) * int64(f.Clients))
}

// mean is total per change; NaN when no change was measured.
func (c changeStats) mean(total float64) float64 {
	if c.changes == 0 {
		return math.NaN()
	}
	return total / float64(c.changes)
}

// round keeps the JSON readable; NaN (nothing measured) becomes null.
func round(v float64, digits int) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// json is the final line: every figure, keyed <run>_<figure>_<unit>.
func (r *report) json() map[string]any {
	j := map[string]any{
		"services": r.opts.services, "clients": r.opts.clients, "endpoints_per_service": endpointsPer,
		"changes_per_run": r.opts.changes, "grpc_connections": max(r.opts.conns, 0),
		"authz_policies": r.opts.authzPolicies,
	}
	if r.opts.conns <= 0 || r.opts.conns > r.opts.clients {
		j["grpc_connections"] = r.opts.clients
	}
	for _, x := range r.runs {
		p := x.name + "_"
		if x.err != nil {
			j[p+"error"] = firstLine(x.err.Error())
			continue
		}
		j[p+"startup_s"] = round(x.startupS, 2)
		j[p+"cold_sync_s"] = round(x.coldSyncS, 3)
		j[p+"cold_sync_client_p50_s"] = round(x.coldSyncClientP50, 3)
		j[p+"cold_sync_client_p99_s"] = round(x.coldSyncClientP99, 3)
		j[p+"cold_sync_cpu_s"] = round(x.coldSyncCPUS, 2)
		j[p+"cold_sync_clients_cpu_s"] = round(x.coldSyncClientsS, 2)
		j[p+"cold_sync_mb"] = round(mb(x.coldSyncBytes), 1)
		j[p+"vs_change_p50_ms"] = round(x.vs.p(50), 1)
		j[p+"vs_change_p99_ms"] = round(x.vs.p(99), 1)
		j[p+"vs_change_max_ms"] = round(x.vs.p(100), 1)
		j[p+"vs_change_mb"] = round(perChange(x.vs), 2)
		j[p+"vs_change_missed"] = x.vs.missed
		j[p+"vs_change_clients_cpu_s"] = round(x.vs.mean(x.vs.clientsCPUS), 2)
		j[p+"vs_change_cpu_s"] = round(x.vs.mean(x.vs.cpuS), 2)
		j[p+"ep_change_p50_ms"] = round(x.ep.p(50), 1)
		j[p+"ep_change_p99_ms"] = round(x.ep.p(99), 1)
		j[p+"ep_change_max_ms"] = round(x.ep.p(100), 1)
		j[p+"ep_change_mb"] = round(perChange(x.ep), 3)
		j[p+"ep_change_missed"] = x.ep.missed
		j[p+"ep_change_clients_cpu_s"] = round(x.ep.mean(x.ep.clientsCPUS), 3)
		j[p+"ep_change_cpu_s"] = round(x.ep.mean(x.ep.cpuS), 3)
		j[p+"bytes_sent_mb"] = round(mb(x.bytes), 1)
		j[p+"cpu_s"] = round(x.cpuS, 2)
		j[p+"peak_rss_mb"] = round(mb(x.peakRSS), 1)
		j[p+"clients_cpu_s"] = round(x.clientsCPUS, 2)
		j[p+"other_cpu_s"] = round(x.otherCPUS, 2)
		j[p+"wall_s"] = round(x.wallS, 1)
		j[p+"stream_errors"] = x.streamErrors
		if r.opts.authzPolicies > 0 {
			authzJSON(j, x)
		}
		if !math.IsNaN(x.statusWrites) {
			j[p+"status_writes"] = x.statusWrites
			j[p+"status_writes_per_s"] = round(x.statusWrites/x.wallS, 2)
		}
	}
	if r.floorErr != nil {
		j["floor_error"] = firstLine(r.floorErr.Error())
	}
	if f := r.floor; f != nil {
		j["floor_cold_bytes_per_client"] = f.ColdBytes
		j["floor_cold_responses_per_client"] = f.Exchange.Responses
		j["floor_cold_requests_per_client"] = f.Exchange.Requests
		j["floor_cold_request_bytes_per_client"] = f.Exchange.RequestBytes
		j["floor_cold_sync_s"] = round(f.ColdSyncS, 3)
		j["floor_cold_sync_client_p99_s"] = round(f.ColdClientP(99), 3)
		j["floor_cold_sync_server_cpu_s"] = round(f.ColdServerCPUS, 2)
		j["floor_cold_sync_clients_cpu_s"] = round(f.ColdClientsCPUS, 2)
		j["floor_vs_change_bytes_per_client"] = f.ChangeBytes
		j["floor_vs_changes"] = f.Changes
		j["floor_vs_change_p50_ms"] = round(f.ChangeP(50), 1)
		j["floor_vs_change_p99_ms"] = round(f.ChangeP(99), 1)
		j["floor_vs_change_max_ms"] = round(f.ChangeP(100), 1)
		j["floor_vs_change_server_cpu_s"] = round(f.ChangeServerCPUPerChange(), 3)
	}
	if f := r.floorOneMessage; f != nil {
		j["floor_one_message_cold_sync_s"] = round(f.ColdSyncS, 3)
		j["floor_one_message_cold_sync_server_cpu_s"] = round(f.ColdServerCPUS, 2)
	}
	loom, base, istiod := r.run("loom"), r.run("baseline"), r.run("istiod")
	ratio := func(a, b float64) any { return round(a/b, 2) }
	if loom != nil && base != nil {
		j["vs_change_p99_speedup_vs_baseline"] = ratio(base.vs.p(99), loom.vs.p(99))
		j["ep_change_p99_speedup_vs_baseline"] = ratio(base.ep.p(99), loom.ep.p(99))
		j["peak_rss_ratio_vs_baseline"] = ratio(float64(loom.peakRSS), float64(base.peakRSS))
		j["cpu_ratio_vs_baseline"] = ratio(loom.cpuS, base.cpuS)
	}
	if loom != nil && istiod != nil {
		j["ep_change_p99_speedup_vs_istiod"] = ratio(istiod.ep.p(99), loom.ep.p(99))
		j["cpu_ratio_vs_istiod"] = ratio(loom.cpuS, istiod.cpuS)
	}
	fs := r.figures()
	for _, x := range ratiosFor(fs) {
		j[x.key] = nil
		if x.known {
			j[x.key] = round(x.value, 2)
		}
	}
	for _, x := range r.authzRatios() {
		j[x.key] = nil
		if x.known {
			j[x.key] = round(x.value, 2)
		}
	}
	met := map[string]any{}
	for _, t := range targetsFor(fs) {
		if t.unknown {
			met[t.key] = nil
		} else {
			met[t.key] = t.met
		}
	}
	j["targets_met"] = met
	return j
}

// figures are the runs and the floor the ratios and targets judge; nil
// when it did not run or failed.
func (r *report) figures() figures {
	return figures{
		loom: r.run("loom"), delta: r.run("loom_delta"), base: r.run("baseline"), istiod: r.run("istiod"),
		floor: r.floor, floorOneMessage: r.floorOneMessage, loomPeakRSS: r.loomPeakRSS(),
	}
}

// loomPeakRSS is the highest peak RSS of Loom's runs.
func (r *report) loomPeakRSS() int64 {
	var m int64
	for _, n := range []string{"loom", "loom_delta"} {
		if x := r.run(n); x != nil {
			m = max(m, x.peakRSS)
		}
	}
	return m
}
