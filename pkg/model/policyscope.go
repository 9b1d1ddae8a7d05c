package model

// PolicyKind reports whether objects of kind act only on the workloads they select: an
// AuthorizationPolicy, RequestAuthentication, RateLimitPolicy or Telemetry changes the
// config of no proxy but those PolicyConfigsFor names for it, before or after the change.
// Every other kind can reach any proxy (a PeerAuthentication also decides how clients
// call the workloads it selects; a VirtualService or Service reaches every caller).
func PolicyKind(kind string) bool {
	switch kind {
	case KindAuthorizationPolicy, KindRequestAuthentication, KindRateLimitPolicy, KindTelemetry:
		return true
	}
	return false
}

// PolicyConfigsFor returns the objects of the policy kinds (see PolicyKind) that a proxy's
// generated config depends on: those selecting its workload, whatever the proxy's kind, so
// a little more than ConfigsFor (which leaves out what proxyless gRPC does not run). An
// object of those kinds that is in neither the old model's nor the new model's answer for a
// proxy cannot have changed that proxy's config.
func (s *Snapshot) PolicyConfigsFor(p Proxy) map[ConfigRef]struct{} {
	out := map[ConfigRef]struct{}{}
	for _, ap := range s.AuthorizationPoliciesFor(p.Namespace, p.Labels) {
		out[refOf(KindAuthorizationPolicy, ap.Policy.Meta)] = struct{}{}
	}
	for _, ra := range s.RequestAuthenticationsFor(p.Namespace, p.Labels) {
		out[refOf(KindRequestAuthentication, ra.Policy.Meta)] = struct{}{}
	}
	// Selection, not RateLimitRulesFor: a policy whose rules are all invalid applies none,
	// and still counts.
	for _, rp := range s.rateLimitPolicies {
		if s.rateLimitSelects(rp.policy, p.Namespace, p.Labels) {
			out[refOf(KindRateLimitPolicy, rp.policy.Meta)] = struct{}{}
		}
	}
	for _, t := range s.telemetryPoliciesFor(p.Namespace, p.Labels) {
		out[refOf(KindTelemetry, t.Meta)] = struct{}{}
	}
	return out
}
