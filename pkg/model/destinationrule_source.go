package model

// DestinationRuleSources returns the rules DestinationRuleFor merges for
// traffic from proxy p to svc, in merge order (oldest first), so that a
// problem found in the merged rule can name the object it came from.
func (s *Snapshot) DestinationRuleSources(p Proxy, svc *Service) []*DestinationRule {
	for _, ns := range lookupNamespaces(p.Namespace, svc.Namespace, s.rootNamespace) {
		if matches := s.destinationRulesIn(ns, p, svc.Hostname); len(matches) > 0 {
			out := make([]*DestinationRule, len(matches))
			for i, m := range matches {
				out[i] = m.DestinationRule
			}
			return out
		}
	}
	return nil
}
