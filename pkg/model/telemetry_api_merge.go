package model

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	telemetry "istio.io/api/telemetry/v1alpha1"
)

// accessLogs merges the accessLogging lists as Istio's mergeLogs does. The
// providers in scope are those the most specific level naming any (in this
// mode) names, else the default ones; then, level by level, each entry
// matching the mode sets its providers (or its parent's, when it names
// none) enabled with the filter of the last level naming them, or disabled.
// An entry whose filter expression does not parse is left out (reported).
func (s *Snapshot) accessLogs(policies []*TelemetryPolicy, mode telemetry.WorkloadMode) []ProviderAccessLog {
	type entry struct {
		e      *telemetry.AccessLogging
		policy *TelemetryPolicy
		index  int
	}
	var levels [][]entry
	for _, p := range policies {
		var entries []entry
		for i, e := range p.Spec.GetAccessLogging() {
			if e != nil && !s.badLogFilters[e.GetFilter().GetExpression()] {
				entries = append(entries, entry{e, p, i})
			}
		}
		if len(entries) > 0 {
			levels = append(levels, entries)
		}
	}
	defaults, sources := s.defaultLogSources()
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
			for _, en := range level {
				if !modeMatches(en.e.GetMatch().GetMode(), mode) {
					continue
				}
				for j, name := range providerNames(en.e.GetProviders()) {
					names = append(names, name)
					filters[name] = en.e.GetFilter().GetExpression()
					sources[name] = ProviderSource{Kind: KindTelemetry, Meta: en.policy.Meta,
						Field: fmt.Sprintf("spec.accessLogging[%d].providers[%d]", en.index, j)}
				}
			}
			if len(names) > 0 {
				inScope = names
			}
		}
		parent := defaults
		for _, level := range levels {
			for _, en := range level {
				names := providerNames(en.e.GetProviders())
				if len(names) == 0 {
					names = parent
				}
				parent = names
				if !modeMatches(en.e.GetMatch().GetMode(), mode) {
					continue
				}
				for _, name := range names {
					if !slices.Contains(inScope, name) {
						continue // a parent's provider a lower level replaced
					}
					providers[name] = spec{filter: filters[name], disabled: en.e.GetDisabled().GetValue()}
				}
			}
		}
	}
	var out []ProviderAccessLog
	for name, sp := range providers {
		canonical, ext, why := s.logProvider(name)
		if why != "" || sp.disabled {
			continue
		}
		log := ProviderAccessLog{Provider: canonical, Ext: ext, Filter: sp.filter, Source: sources[name]}
		if ext == nil {
			log.Log = s.envoyLog()
		}
		out = append(out, log)
	}
	slices.SortFunc(out, func(a, b ProviderAccessLog) int {
		return cmp.Or(strings.Compare(a.Provider, b.Provider), strings.Compare(a.Filter, b.Filter),
			strings.Compare(a.Source.Meta.String()+a.Source.Field, b.Source.Meta.String()+b.Source.Field))
	})
	// Two names that differ in case are one provider: keep one log.
	return slices.CompactFunc(out, func(a, b ProviderAccessLog) bool { return a.Provider == b.Provider })
}

// tracingSpec is one direction's tracing while the levels are merged.
type tracingSpec struct {
	provider   string
	ext        *ExtensionProvider
	source     ProviderSource
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
	c := s.defaultTracing()
	sv := c
	for _, p := range policies {
		for i, e := range p.Spec.GetTracing() {
			if e != nil {
				s.mergeTracing(&c, &sv, e, ProviderSource{Kind: KindTelemetry, Meta: p.Meta, Field: fmt.Sprintf("spec.tracing[%d].providers[0]", i)})
			}
		}
	}
	return s.proxyTracing(c), s.proxyTracing(sv)
}

// mergeTracing lets one tracing entry override the fields it sets.
func (s *Snapshot) mergeTracing(c, sv *tracingSpec, e *telemetry.Tracing, src ProviderSource) {
	specs := []*tracingSpec{c, sv}
	switch e.GetMatch().GetMode() {
	case telemetry.WorkloadMode_CLIENT:
		specs = specs[:1]
	case telemetry.WorkloadMode_SERVER:
		specs = specs[1:]
	}
	for _, sp := range specs {
		if names := providerNames(e.GetProviders()); len(names) > 0 {
			sp.setProvider(s, names[0], src)
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

// defaultSamplingPercentage is Istio's sampling when neither the Telemetry
// nor the mesh config's tracing sets one.
const defaultSamplingPercentage = 1.0

func (s *Snapshot) proxyTracing(sp tracingSpec) *ProxyTracing {
	if !sp.known || sp.disabled {
		return nil
	}
	out := &ProxyTracing{Provider: sp.provider, Ext: sp.ext, CustomTags: sp.customTags, Source: sp.source}
	out.SamplingPercentage = defaultSamplingPercentage
	if s.telemetry.Tracing != nil {
		out.SamplingPercentage = s.telemetry.Tracing.SamplingPercentage
	}
	if sp.ext == nil {
		// The built-in provider is known only while the mesh config's
		// tracing names a collector.
		out.Collector = *s.telemetry.Tracing
	}
	if sp.sampling != nil {
		out.SamplingPercentage = *sp.sampling
	}
	return out
}
