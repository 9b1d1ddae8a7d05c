package main

import (
	"fmt"
	"math"

	"loom.dev/loom/pkg/xds"
	"loom.dev/loom/test/bench/grpcfloor/floor"
)

// figures are what the ratios and targets judge: the runs that completed
// and the gRPC floor (nil when it did not run or failed): floor repeats
// loom's cold-sync exchange, floorOneMessage sends its bytes as one message.
type figures struct {
	loom, delta, base, istiod *runResult
	floor, floorOneMessage    *floor.Result
	loomPeakRSS               int64 // the highest of loom's runs
}

// amount is one side of a ratio: whose figure, its value and unit.
type amount struct {
	who, unit string // unit: "s", "ms", "CPU s", "MB"
	v         float64
}

func (a amount) String() string {
	switch a.unit {
	case "ms", "MB", "KB":
		return fmt.Sprintf("%s %.0f %s", a.who, a.v, a.unit)
	default:
		return fmt.Sprintf("%s %.2f %s", a.who, a.v, a.unit)
	}
}

// ratio is num/den, or why it was not measured.
type ratio struct {
	key      string
	num, den amount
	value    float64
	known    bool
	why      string
}

// ratioOf divides when missing is empty and both figures are measured.
func ratioOf(key, missing string, num, den amount) ratio {
	x := ratio{key: key, num: num, den: den, why: missing}
	switch {
	case missing != "":
	case math.IsNaN(num.v) || math.IsNaN(den.v):
		x.why = "no change measured"
	case den.v <= 0:
		x.why = den.who + "'s figure is 0, too small to measure"
	default:
		x.value, x.known = num.v/den.v, true
	}
	return x
}

func (x ratio) line() string {
	if !x.known {
		return fmt.Sprintf("%s: not measured (%s)", x.key, x.why)
	}
	return fmt.Sprintf("%s: %.2f (%s / %s)", x.key, x.value, x.num, x.den)
}

// firstOf is the first non-empty reason.
func firstOf(reasons ...string) string {
	for _, r := range reasons {
		if r != "" {
			return r
		}
	}
	return ""
}

func absent(missing bool, reason string) string {
	if missing {
		return reason
	}
	return ""
}

// nan is get(x), or NaN when x is nil.
func nan[T any](x *T, get func(*T) float64) float64 {
	if x == nil {
		return math.NaN()
	}
	return get(x)
}

// ratiosFor are loom's (SotW) figures against the gRPC floor for the same
// bytes and against istiod and the go-control-plane baseline. A speedup is
// theirs / loom's; a ratio to the floor is loom's / the floor's.
func ratiosFor(f figures) []ratio {
	noLoom := absent(f.loom == nil, "loom did not run")
	noFloor := firstOf(noLoom, absent(f.floor == nil, "gRPC floor not measured"))
	noIstiod := firstOf(noLoom, absent(f.istiod == nil, "istiod not run"))
	noBase := firstOf(noLoom, absent(f.base == nil, "baseline not run"))
	cold := func(who string, x *runResult) amount {
		return amount{who, "s", nan(x, func(r *runResult) float64 { return r.coldSyncS })}
	}
	vsP99 := func(who string, x *runResult) amount {
		return amount{who, "ms", nan(x, func(r *runResult) float64 { return r.vs.p(99) })}
	}
	fl := f.floor
	floorCold := amount{"floor", "s", nan(fl, func(r *floor.Result) float64 { return r.ColdSyncS })}
	floorVS := amount{"floor", "ms", nan(fl, func(r *floor.Result) float64 { return r.ChangeP(99) })}
	floorCPU := amount{"floor server", "CPU s", nan(fl, func(r *floor.Result) float64 { return r.ColdServerCPUS })}
	loomCPU := amount{"loom", "CPU s", nan(f.loom, func(r *runResult) float64 { return r.coldSyncCPUS })}
	oneMessageCPU := amount{"one-message floor server", "CPU s", nan(f.floorOneMessage, func(r *floor.Result) float64 { return r.ColdServerCPUS })}
	rss := func(who string, v int64) amount { return amount{who, "MB", mb(v)} }
	return []ratio{
		ratioOf("cold_sync_ratio_vs_floor", noFloor, cold("loom", f.loom), floorCold),
		ratioOf("cold_sync_speedup_vs_istiod", noIstiod, cold("istiod", f.istiod), cold("loom", f.loom)),
		ratioOf("cold_sync_speedup_vs_baseline", noBase, cold("baseline", f.base), cold("loom", f.loom)),
		ratioOf("vs_change_p99_ratio_vs_floor", noFloor, vsP99("loom", f.loom), floorVS),
		ratioOf("vs_change_p99_less_debounce_ratio_vs_floor", noFloor, lessDebounce(vsP99("loom", f.loom)), floorVS),
		ratioOf("vs_change_p99_speedup_vs_istiod", noIstiod, vsP99("istiod", f.istiod), vsP99("loom", f.loom)),
		ratioOf("cold_sync_cpu_ratio_vs_floor", noFloor, loomCPU, floorCPU),
		ratioOf("cold_sync_cpu_ratio_vs_one_message_floor", firstOf(noFloor, absent(f.floorOneMessage == nil, "gRPC floor not measured")), loomCPU, oneMessageCPU),
		ratioOf("peak_rss_ratio_vs_istiod", firstOf(absent(f.loomPeakRSS == 0, "loom did not run"), absent(f.istiod == nil, "istiod not run")),
			rss("loom", f.loomPeakRSS), rss("istiod", int64(nan(f.istiod, func(r *runResult) float64 { return float64(r.peakRSS) })))),
	}
}

// lessDebounce is a change's latency less the quiet period loom waits, as istiod
// does, before it pushes: the floor pushes at once, and no Istio-compatible control
// plane can deliver sooner than the debounce plus the transport.
func lessDebounce(a amount) amount {
	return amount{a.who + " less its debounce", a.unit, a.v - float64(xds.DefaultDebounceQuiet.Milliseconds())}
}

type target struct {
	key, name, detail string
	met, unknown      bool
}

func (t target) line() string {
	state := "MET"
	switch {
	case t.unknown:
		state = "not measured"
	case !t.met:
		state = "MISSED"
	}
	return fmt.Sprintf("target %-55s %-12s (%s)", t.name, state, t.detail)
}

// judge is a target on a ratio: met when ok(value).
func judge(key, name string, x ratio, ok func(float64) bool) target {
	if !x.known {
		return target{key: key, name: name, unknown: true, detail: x.why}
	}
	return target{key: key, name: name, met: ok(x.value), detail: fmt.Sprintf("%.2fx: %s / %s", x.value, x.num, x.den)}
}

// judgeBelow is a target on one figure: met when below limit.
func judgeBelow(key, name, missing string, a amount, limit float64) target {
	if missing == "" && math.IsNaN(a.v) {
		missing = "no change measured"
	}
	if missing != "" {
		return target{key: key, name: name, unknown: true, detail: missing}
	}
	return target{key: key, name: name, met: a.v < limit, detail: a.String()}
}

// targetsFor are the goals at S=1000, M=1000 on 2 cores: loom against the
// gRPC floor for the same bytes and against istiod, and absolute limits.
func targetsFor(f figures) []target {
	rs := map[string]ratio{}
	for _, x := range ratiosFor(f) {
		rs[x.key] = x
	}
	return []target{
		judge("vs_change_p99_less_debounce_within_1_3x_floor", "VirtualService change p99 less debounce <= 1.3x floor's",
			rs["vs_change_p99_less_debounce_ratio_vs_floor"], func(v float64) bool { return v <= 1.3 }),
		judge("vs_change_p99_10x_istiod", "VirtualService change p99 >= 10x better than istiod's",
			rs["vs_change_p99_speedup_vs_istiod"], func(v float64) bool { return v >= 10 }),
		judge("cold_sync_10x_istiod", "cold sync >= 10x faster than istiod",
			rs["cold_sync_speedup_vs_istiod"], func(v float64) bool { return v >= 10 }),
		judge("cold_sync_cpu_within_1_5x_floor", "CPU per cold sync <= 1.5x the gRPC floor server's",
			rs["cold_sync_cpu_ratio_vs_floor"], func(v float64) bool { return v <= 1.5 }),
		judgeBelow("ep_change_p99_delta_lt_100ms", "endpoint change p99 < 100 ms (delta)", absent(f.delta == nil, "delta not run"),
			amount{"loom_delta", "ms", nan(f.delta, func(r *runResult) float64 { return r.ep.p(99) })}, 100),
		judgeBelow("peak_rss_lt_300mb", "peak RSS < 300 MB", absent(f.loomPeakRSS == 0, "loom did not run"),
			amount{"loom", "MB", mb(f.loomPeakRSS)}, 300),
		judge("peak_rss_below_istiod", "peak RSS below istiod's",
			rs["peak_rss_ratio_vs_istiod"], func(v float64) bool { return v < 1 }),
	}
}
