package main

import (
	"fmt"
	"io"
)

// authzRatios compare loom with the AuthorizationPolicies in place to loom
// without them, for SotW and delta: cold sync, the change p99s and the
// clients' bytes per proxy (with / without), and for SotW the workload
// proxies' bytes per proxy. None when the benchmark ran without policies.
func (r *report) authzRatios() []ratio {
	if r.opts.authzPolicies <= 0 {
		return nil
	}
	var out []ratio
	for _, name := range []string{"loom", "loom_delta"} {
		without, with := r.run(name), r.run(name+"_authz")
		missing := firstOf(absent(without == nil, name+" did not run"), absent(with == nil, name+"_authz did not run"))
		who := fmt.Sprintf("%s with %d policies", name, r.opts.authzPolicies)
		pairs := []struct {
			key, unit string
			get       func(*runResult) float64
		}{
			{"cold_sync", "s", func(x *runResult) float64 { return x.coldSyncS }},
			{"vs_change_p99", "ms", func(x *runResult) float64 { return x.vs.p(99) }},
			{"ep_change_p99", "ms", func(x *runResult) float64 { return x.ep.p(99) }},
			{"client_bytes_per_proxy", "KB", func(x *runResult) float64 { return x.bytesPerClient() / 1e3 }},
		}
		for _, p := range pairs {
			out = append(out, ratioOf(name+"_authz_"+p.key+"_ratio", missing,
				amount{who, p.unit, nan(with, p.get)}, amount{name, p.unit, nan(without, p.get)}))
		}
	}
	without, with := r.run("loom"), r.run("loom_authz")
	missing := firstOf(absent(without == nil || without.workloads == nil, "loom's workload proxies not measured"),
		absent(with == nil || with.workloads == nil, "loom_authz's workload proxies not measured"))
	perProxy := func(x *runResult) float64 {
		if x.workloads == nil {
			return 0
		}
		return x.workloads.bytesPerProxy / 1e3
	}
	vsP99 := func(x *runResult) float64 {
		if x.workloads == nil {
			return 0
		}
		return x.workloads.vs.p(99)
	}
	who := fmt.Sprintf("loom with %d policies", r.opts.authzPolicies)
	out = append(out,
		ratioOf("loom_authz_workload_bytes_per_proxy_ratio", missing, amount{who, "KB", nan(with, perProxy)}, amount{"loom", "KB", nan(without, perProxy)}),
		ratioOf("loom_authz_vs_change_p99_with_workloads_ratio", missing, amount{who, "ms", nan(with, vsP99)}, amount{"loom", "ms", nan(without, vsP99)}))
	return out
}

// bytesPerClient is what one simulated client received up to its full config.
func (x *runResult) bytesPerClient() float64 {
	if x.synced == 0 {
		return 0
	}
	return float64(x.coldSyncBytes) / float64(x.synced)
}

// printAuthz prints what the workload proxies measured: their config with
// and without the policies, and the policy changes' convergence.
func (r *report) printAuthz(w io.Writer) {
	if r.opts.authzPolicies <= 0 {
		return
	}
	n := r.opts.authzPolicies
	fmt.Fprintf(w, "\n%d AuthorizationPolicies in %d namespaces select %d workloads: the %d clients (app: client, made servers by a Service) and one workload proxy each (a replica of the clients' among them)\n",
		n, len(authzNamespaces(n)), len(authzWorkloads(n)), r.opts.clients)
	for _, x := range r.runs {
		switch {
		case x.workloadsErr != nil:
			fmt.Fprintf(w, "%s workload proxies: FAILED: %s\n", x.name, firstLine(x.workloadsErr.Error()))
		case x.workloads != nil:
			s := x.workloads
			fmt.Fprintf(w, "%s workload proxies: %d synced in %.2f s (control plane CPU %.1f s), %.1f KB each, %d with an HTTP RBAC filter, %d/%d policies in their RBAC filters; control plane's peak RSS with them %.0f MB\n",
				x.name, s.synced, s.syncS, s.syncCPUS, s.bytesPerProxy/1e3, s.httpRBAC, s.policiesSeen, s.policiesTotal, mb(s.peakRSS))
			if s.vs.changes > 0 {
				fmt.Fprintf(w, "%s VirtualService change with the workload proxies connected: p50 %.0f ms p99 %.0f ms (clients), %d missed\n",
					x.name, s.vs.p(50), s.vs.p(99), s.vs.missed)
			}
			if s.change.changes > 0 {
				fmt.Fprintf(w, "%s AuthorizationPolicy change -> affected proxies' ACK: p50 %.0f ms p99 %.0f ms max %.0f ms over %d proxy-changes (%d changes), %d missed\n",
					x.name, s.change.p(50), s.change.p(99), s.change.p(100), len(s.change.latenciesMs), s.change.changes, s.change.missed)
			}
		}
	}
}

// authzJSON adds a run's workload proxy figures to the JSON line.
func authzJSON(j map[string]any, x *runResult) {
	p := x.name + "_"
	j[p+"bytes_per_client_kb"] = round(x.bytesPerClient()/1e3, 1)
	if x.workloadsErr != nil {
		j[p+"workloads_error"] = firstLine(x.workloadsErr.Error())
	}
	s := x.workloads
	if s == nil {
		return
	}
	j[p+"workload_proxies"] = s.proxies
	j[p+"workload_proxies_synced"] = s.synced
	j[p+"workload_proxies_sync_s"] = round(s.syncS, 3)
	j[p+"workload_proxies_sync_cpu_s"] = round(s.syncCPUS, 2)
	j[p+"workload_bytes_per_proxy_kb"] = round(s.bytesPerProxy/1e3, 1)
	j[p+"workload_proxies_http_rbac"] = s.httpRBAC
	j[p+"workloads_peak_rss_mb"] = round(mb(s.peakRSS), 1)
	if s.policiesTotal > 0 {
		j[p+"authz_policies_in_config"] = s.policiesSeen
	}
	if s.vs.changes > 0 {
		j[p+"workloads_vs_change_p50_ms"] = round(s.vs.p(50), 1)
		j[p+"workloads_vs_change_p99_ms"] = round(s.vs.p(99), 1)
		j[p+"workloads_vs_change_missed"] = s.vs.missed
	}
	if s.change.changes > 0 {
		j[p+"authz_changes"] = s.change.changes
		j[p+"authz_change_p50_ms"] = round(s.change.p(50), 1)
		j[p+"authz_change_p99_ms"] = round(s.change.p(99), 1)
		j[p+"authz_change_max_ms"] = round(s.change.p(100), 1)
		j[p+"authz_change_missed"] = s.change.missed
	}
}
