package model

import (
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"
	networking "istio.io/api/networking/v1alpha3"
)

const kindDestinationRule = "DestinationRule"

type boundDestinationRule struct {
	*DestinationRule
	host     string
	exportTo ExportTo
}

func (s *Snapshot) indexDestinationRules(drs []*DestinationRule) {
	s.destinationRules = map[string][]*boundDestinationRule{}
	for _, dr := range sortedByAge(slices.Clone(drs)) {
		if dr.Spec == nil || dr.Spec.GetHost() == "" {
			s.report(kindDestinationRule, dr.Meta, "spec.host", "required")
			continue
		}
		exportTo, err := ParseExportTo(dr.Spec.GetExportTo(), dr.Namespace)
		if err != nil {
			s.report(kindDestinationRule, dr.Meta, "spec.exportTo", "%v", err)
			continue
		}
		if !s.validSubsets(dr) {
			continue
		}
		s.destinationRules[dr.Namespace] = append(s.destinationRules[dr.Namespace], &boundDestinationRule{
			DestinationRule: dr,
			host:            ResolveHost(dr.Spec.GetHost(), dr.Namespace, s.domainSuffix),
			exportTo:        exportTo,
		})
	}
}

func (s *Snapshot) validSubsets(dr *DestinationRule) bool {
	seen := map[string]bool{}
	for i, ss := range dr.Spec.GetSubsets() {
		field := fmt.Sprintf("spec.subsets[%d].name", i)
		switch {
		case ss.GetName() == "":
			s.report(kindDestinationRule, dr.Meta, field, "required")
			return false
		case seen[ss.GetName()]:
			s.report(kindDestinationRule, dr.Meta, field, "duplicate subset %q", ss.GetName())
			return false
		}
		seen[ss.GetName()] = true
	}
	return true
}

// DestinationRuleFor returns the destination rule that applies to traffic
// from proxy p to a service, following Istio's lookup: rules in the proxy's
// namespace, then in the service's namespace, then in the root namespace;
// within a namespace the most specific host wins, and rules for the same
// host are merged (subsets from all of them, the first subset of a name
// wins; the traffic policy of the oldest rule that has one). The result is a
// new object; nil means no rule applies.
func (s *Snapshot) DestinationRuleFor(p Proxy, svc *Service) *networking.DestinationRule {
	for _, ns := range lookupNamespaces(p.Namespace, svc.Namespace, s.rootNamespace) {
		if merged := s.destinationRuleIn(ns, p, svc.Hostname); merged != nil {
			return merged
		}
	}
	return nil
}

func lookupNamespaces(namespaces ...string) []string {
	var out []string
	for _, ns := range namespaces {
		if ns != "" && !slices.Contains(out, ns) {
			out = append(out, ns)
		}
	}
	return out
}

func (s *Snapshot) destinationRuleIn(ns string, p Proxy, host string) *networking.DestinationRule {
	matches := s.destinationRulesIn(ns, p, host)
	if len(matches) == 0 {
		return nil
	}
	return mergeDestinationRules(matches)
}

// destinationRulesIn returns the rules of namespace ns that apply to host
// for proxy p: those with the most specific matching host, oldest first.
func (s *Snapshot) destinationRulesIn(ns string, p Proxy, host string) []*boundDestinationRule {
	var matches []*boundDestinationRule
	bestHost := ""
	for _, b := range s.destinationRules[ns] {
		if !b.exportTo.VisibleTo(p.Namespace) || !HostMatches(b.host, host) {
			continue
		}
		if sel := b.Spec.GetWorkloadSelector(); sel != nil {
			if ns != p.Namespace || !labelsMatch(sel.GetMatchLabels(), p.Labels) {
				continue
			}
		}
		switch {
		case len(matches) == 0 || moreSpecific(b.host, bestHost):
			matches, bestHost = []*boundDestinationRule{b}, b.host
		case b.host == bestHost:
			matches = append(matches, b)
		}
	}
	return matches
}

func mergeDestinationRules(rules []*boundDestinationRule) *networking.DestinationRule {
	merged := proto.Clone(rules[0].Spec).(*networking.DestinationRule)
	for _, r := range rules[1:] {
		for _, ss := range r.Spec.GetSubsets() {
			if !slices.ContainsFunc(merged.Subsets, func(m *networking.Subset) bool { return m.GetName() == ss.GetName() }) {
				merged.Subsets = append(merged.Subsets, proto.Clone(ss).(*networking.Subset))
			}
		}
		if merged.TrafficPolicy == nil && r.Spec.GetTrafficPolicy() != nil {
			merged.TrafficPolicy = proto.Clone(r.Spec.GetTrafficPolicy()).(*networking.TrafficPolicy)
		}
	}
	return merged
}
