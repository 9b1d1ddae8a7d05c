package main

import "fmt"

// authzRatios compare loom with the AuthorizationPolicies in place to loom
// without them, for SotW and delta: cold sync, and the change p99s (with / without).
// None when the benchmark ran without policies.
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
		}
		for _, p := range pairs {
			out = append(out, ratioOf(name+"_authz_"+p.key+"_ratio", missing,
				amount{who, p.unit, nan(with, p.get)}, amount{name, p.unit, nan(without, p.get)}))
		}
	}
	return out
}
