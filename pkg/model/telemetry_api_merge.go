package model

import (
	"slices"

	telemetry "istio.io/api/telemetry/v1alpha1"
)

// accessLogs merges the accessLogging lists as Istio's mergeLogs does. The
// providers in scope are those the most specific level naming any (in this
// mode) names, else the default ones; then, level by level, each entry
// matching the mode sets its providers (or its parent's, when it names
// none) enabled with the filter of the last level naming them, or disabled.
// An entry whose filter expression does not parse is left out (reported).
func (s *Snapshot) accessLogs(policies []*TelemetryPolicy, mode telemetry.WorkloadMode) []ProviderAccessLog {
	var levels [][]*telemetry.AccessLogging
	for _, p := range policies {
		var entries []*telemetry.AccessLogging
		for _, e := range p.Spec.GetAccessLogging() {
			if e != nil && !s.badLogFilters[e.GetFilter().GetExpression()] {
				entries = append(entries, e)
			}
		}
		if len(entries) > 0 {
			levels = append(levels, entries)
		}
	}
	defaults := s.defaultLogProviders()
	type spec struct {
		filter   string
		disabled bool
	}
	providers := map[string]spec{}
	if len(levels) == 0 {
		for _, d := range defaults {
			providers[d] = spec{}
		}
	} else {
		inScope := defaults
		filters := map[string]string{}
		for _, level := range levels {
			var names []string
			for _, e := range level {
				if !modeMatches(e.GetMatch().GetMode(), mode) {
					continue
				}
				for _, name := range providerNames(e.GetProviders()) {
					names = append(names, name)
					filters[name] = e.GetFilter().GetExpression()
				}
			}
			if len(names) > 0 {
				inScope = names
			}
		}
		parent := defaults
		for _, level := range levels {
			for _, e := range level {
				names := providerNames(e.GetProviders())
				if len(names) == 0 {
					names = parent
				}
				parent = names
				if !modeMatches(e.GetMatch().GetMode(), mode) {
					continue
				}
				for _, name := range names {
					if !slices.Contains(inScope, name) {
						continue // a parent's provider a lower level replaced
					}
					providers[name] = spec{filter: filters[name], disabled: e.GetDisabled().GetValue()}
				}
			}
		}
	}
	var out []ProviderAccessLog
	for name, sp := range providers {
		canonical, ok := s.knownProvider(name, false)
		if !ok || sp.disabled {
			continue
		}
		out = append(out, ProviderAccessLog{Provider: canonical, Log: s.envoyLog(), Filter: sp.filter})
	}
	slices.SortFunc(out, func(a, b ProviderAccessLog) int {
		if a.Provider != b.Provider {
			if a.Provider < b.Provider {
				return -1
			}
			return 1
		}
		if a.Filter < b.Filter {
			return -1
		}
		return 0
	})
	// Two names that differ in case are one provider: keep one log.
	return slices.CompactFunc(out, func(a, b ProviderAccessLog) bool { return a.Provider == b.Provider })
}

// tracingSpec is one direction's tracing while the levels are merged.
type tracingSpec struct {
	provider   string
	known      bool
	disabled   bool
	sampling   *float64
	customTags map[string]*telemetry.Tracing_CustomTag
}

// tracing merges the tracing lists as Istio does: the default provider,
// then every entry in order overrides, for the modes it matches, the
// fields it sets (the first provider it names, disableSpanReporting,
// customTags as a whole, randomSamplingPercentage). A direction with no
// provider, or span reporting disabled, is not traced.
func (s *Snapshot) tracing(policies []*TelemetryPolicy) (client, server *ProxyTracing) {
	var entries []*telemetry.Tracing
	for _, p := range policies {
		for _, e := range p.Spec.GetTracing() {
			if e != nil {
				entries = append(entries, e)
			}
		}
	}
	var c, sv tracingSpec
	if s.telemetry.Traces() {
		c = tracingSpec{provider: ZipkinTraceProvider, known: true}
		sv = c
	}
	for _, e := range entries {
		specs := []*tracingSpec{&c, &sv}
		switch e.GetMatch().GetMode() {
		case telemetry.WorkloadMode_CLIENT:
			specs = specs[:1]
		case telemetry.WorkloadMode_SERVER:
			specs = specs[1:]
		}
		for _, sp := range specs {
			if names := providerNames(e.GetProviders()); len(names) > 0 {
				sp.provider, sp.known = s.knownProvider(names[0], true)
			}
			if e.GetDisableSpanReporting() != nil {
				sp.disabled = e.GetDisableSpanReporting().GetValue()
			}
			if e.GetCustomTags() != nil {
				sp.customTags = e.GetCustomTags()
			}
			if e.GetRandomSamplingPercentage() != nil {
				v := e.GetRandomSamplingPercentage().GetValue()
				sp.sampling = &v
			}
		}
	}
	return s.proxyTracing(c), s.proxyTracing(sv)
}

func (s *Snapshot) proxyTracing(sp tracingSpec) *ProxyTracing {
	// known implies the mesh config's tracing names a collector.
	if !sp.known || sp.disabled {
		return nil
	}
	out := &ProxyTracing{Provider: sp.provider, Collector: *s.telemetry.Tracing, CustomTags: sp.customTags}
	out.SamplingPercentage = s.telemetry.Tracing.SamplingPercentage
	if sp.sampling != nil {
		out.SamplingPercentage = *sp.sampling
	}
	return out
}
