package model

// ConfigRef names one Istio configuration object: Kind as in Problem.Kind.
type ConfigRef struct {
	Kind      string
	Namespace string
	Name      string
}

func (r ConfigRef) String() string { return r.Kind + " " + r.Namespace + "/" + r.Name }

func refOf(kind string, m Meta) ConfigRef {
	return ConfigRef{Kind: kind, Namespace: m.Namespace, Name: m.Name}
}

// ConfigGenerations returns the generation of every configuration object the snapshot
// acts on: an object that is not here was left out as invalid (see Problems), or is of a
// kind whose effect on a proxy ConfigsFor does not follow.
func (s *Snapshot) ConfigGenerations() map[ConfigRef]int64 {
	out := map[ConfigRef]int64{}
	add := func(kind string, m Meta) { out[refOf(kind, m)] = m.Generation }
	for _, vs := range s.virtualServices {
		add(kindVirtualService, vs.Meta)
	}
	for _, drs := range s.destinationRules {
		for _, dr := range drs {
			add(kindDestinationRule, dr.Meta)
		}
	}
	for _, gw := range s.gateways {
		add(kindGateway, gw.Meta)
	}
	for _, sc := range s.sidecars {
		add(kindSidecar, sc.Meta)
	}
	for _, pa := range s.peerAuthentications {
		add(KindPeerAuthentication, pa.Meta)
	}
	for _, ap := range s.authorizationPolicies {
		add(KindAuthorizationPolicy, ap.Meta)
	}
	for _, ra := range s.requestAuthentications {
		add(KindRequestAuthentication, ra.Meta)
	}
	for _, rl := range s.rateLimitPolicies {
		add(KindRateLimitPolicy, rl.policy.Meta)
	}
	namespaceWide := map[string]bool{} // telemetries is oldest first, as namespaceWideTelemetry reads it
	for _, t := range s.telemetries {
		if telemetryNamespaceWide(t) {
			if namespaceWide[t.Namespace] {
				continue // a younger namespace-wide Telemetry: Istio ignores it, so nothing acts on it
			}
			namespaceWide[t.Namespace] = true
		}
		add(KindTelemetry, t.Meta)
	}
	return out
}

// ConfigsFor returns the configuration objects a proxy's generated config depends on, as
// far as their scope decides it: VirtualServices bound to the proxy's gateways ("mesh" for
// sidecars and gRPC clients) and visible to its namespace, with the delegates they name;
// DestinationRules visible to its namespace whose workloadSelector (if any) picks it; the
// Gateways that select a gateway proxy; the Sidecar that applies; and the PeerAuthentication,
// AuthorizationPolicies, RequestAuthentications, and the RateLimitPolicies and Telemetries
// (but on proxyless gRPC, which runs neither) that select the workload; Telemetries as
// TelemetryFor merges them: the root namespace's namespace-wide one, the proxy namespace's,
// and those of its namespace whose selector picks it. Hosts are not
// matched against the services the proxy sees: a VirtualService for a host no proxy calls
// still counts as applying to every proxy it is visible to, as Istio's distribution
// reporting counts it.
func (s *Snapshot) ConfigsFor(p Proxy) map[ConfigRef]struct{} {
	out := map[ConfigRef]struct{}{}
	add := func(kind string, m Meta) { out[refOf(kind, m)] = struct{}{} }
	gateways := []string{MeshGateway}
	if p.Kind == KindGateway {
		gateways = nil
		for _, gw := range s.GatewaysFor(p) {
			add(kindGateway, gw.Meta)
			gateways = append(gateways, gw.Meta.String())
		}
	}
	for _, gw := range gateways {
		for _, vs := range s.VirtualServices(p.Namespace, gw) {
			add(kindVirtualService, vs.Meta)
			for _, route := range vs.Spec.GetHttp() {
				if d := route.GetDelegate(); d != nil {
					ns := d.GetNamespace()
					if ns == "" {
						ns = vs.Namespace
					}
					if delegate := s.Delegate(d.GetName(), ns); delegate != nil {
						add(kindVirtualService, delegate.Meta)
					}
				}
			}
		}
	}
	for _, drs := range s.destinationRules {
		for _, dr := range drs {
			if !dr.exportTo.VisibleTo(p.Namespace) {
				continue
			}
			if sel := dr.Spec.GetWorkloadSelector(); sel != nil && (dr.Namespace != p.Namespace || !labelsMatch(sel.GetMatchLabels(), p.Labels)) {
				continue
			}
			add(kindDestinationRule, dr.Meta)
		}
	}
	if p.Kind != KindGateway {
		if sc := s.SidecarFor(p); sc != nil {
			add(kindSidecar, sc.Meta)
		}
	}
	for _, pa := range s.peerAuthentications {
		inScope := pa.Namespace == p.Namespace || (pa.Namespace == s.rootNamespace && !hasSelector(pa))
		if inScope && (!hasSelector(pa) || labelsMatch(pa.Spec.GetSelector().GetMatchLabels(), p.Labels)) {
			add(KindPeerAuthentication, pa.Meta)
		}
	}
	for _, ap := range s.AuthorizationPoliciesFor(p.Namespace, p.Labels) {
		add(KindAuthorizationPolicy, ap.Policy.Meta)
	}
	for _, ra := range s.RequestAuthenticationsFor(p.Namespace, p.Labels) {
		add(KindRequestAuthentication, ra.Policy.Meta)
	}
	if p.Kind != KindGRPC { // gRPC-Go has no local rate limiting: nothing is programmed there
		for _, rl := range s.RateLimitRulesFor(p.Namespace, p.Labels) {
			add(KindRateLimitPolicy, rl.Policy.Meta)
		}
		// gRPC-Go implements neither access logs nor tracing: no Telemetry reaches it.
		for _, t := range s.telemetryPoliciesFor(p.Namespace, p.Labels) {
			add(KindTelemetry, t.Meta)
		}
	}
	return out
}
