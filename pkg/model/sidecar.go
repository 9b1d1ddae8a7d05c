package model

import (
	"fmt"
	"strings"
)

const (
	kindSidecar = "Sidecar"
	kindGateway = "Gateway"
)

func (s *Snapshot) validSidecars(scs []*Sidecar) []*Sidecar {
	var out []*Sidecar
	for _, sc := range scs {
		if sc.Spec == nil {
			s.report(kindSidecar, sc.Meta, "spec", "missing")
			continue
		}
		valid := true
		for i, eg := range sc.Spec.GetEgress() {
			for j, h := range eg.GetHosts() {
				if ns, name, ok := strings.Cut(h, "/"); !ok || ns == "" || name == "" {
					s.report(kindSidecar, sc.Meta, fmt.Sprintf("spec.egress[%d].hosts[%d]", i, j), "%q is not of the form namespace/dnsName", h)
					valid = false
				}
			}
		}
		if valid {
			out = append(out, sc)
		}
	}
	return out
}

// SidecarFor returns the Sidecar that applies to a proxy: the oldest one in
// its namespace whose workloadSelector matches it, else the one in its
// namespace without a selector, else the root namespace's one without a
// selector. Nil means no Sidecar: the proxy sees every visible service.
func (s *Snapshot) SidecarFor(p Proxy) *Sidecar {
	var nsDefault, rootDefault *Sidecar
	for _, sc := range s.sidecars {
		sel := sc.Spec.GetWorkloadSelector()
		switch {
		case sc.Namespace == p.Namespace && sel != nil:
			if labelsMatch(sel.GetLabels(), p.Labels) {
				return sc
			}
		case sc.Namespace == p.Namespace && nsDefault == nil:
			nsDefault = sc
		case sc.Namespace == s.rootNamespace && sel == nil && rootDefault == nil:
			rootDefault = sc
		}
	}
	if nsDefault != nil {
		return nsDefault
	}
	return rootDefault
}

// egressAllows reports whether a Sidecar's egress hosts let a proxy in
// namespace ns reach a service. Hosts are "namespace/dnsName", where the
// namespace may be "*" (any), "." (the proxy's) or "~" (none) and dnsName
// may be a wildcard.
func (s *Snapshot) egressAllows(sc *Sidecar, ns string, svc *Service) bool {
	if sc == nil || len(sc.Spec.GetEgress()) == 0 {
		return true
	}
	for _, eg := range sc.Spec.GetEgress() {
		for _, h := range eg.GetHosts() {
			hostNS, name, _ := strings.Cut(h, "/")
			switch hostNS {
			case "~":
				continue
			case ".":
				hostNS = ns
			}
			if (hostNS == "*" || hostNS == svc.Namespace) && HostMatches(name, svc.Hostname) {
				return true
			}
		}
	}
	return false
}

func (s *Snapshot) validGateways(gws []*Gateway) []*Gateway {
	var out []*Gateway
	for _, gw := range gws {
		if gw.Spec == nil || len(gw.Spec.GetServers()) == 0 {
			s.report(kindGateway, gw.Meta, "spec.servers", "at least one server is required")
			continue
		}
		valid := true
		for i, srv := range gw.Spec.GetServers() {
			if srv.GetPort() == nil || srv.GetPort().GetNumber() == 0 {
				s.report(kindGateway, gw.Meta, fmt.Sprintf("spec.servers[%d].port", i), "a port number is required")
				valid = false
			}
			if len(srv.GetHosts()) == 0 {
				s.report(kindGateway, gw.Meta, fmt.Sprintf("spec.servers[%d].hosts", i), "at least one host is required")
				valid = false
			}
		}
		if valid {
			out = append(out, gw)
		}
	}
	return out
}

// GatewaysFor returns the Gateways whose selector matches a gateway proxy's
// labels, oldest first.
func (s *Snapshot) GatewaysFor(p Proxy) []*Gateway {
	var out []*Gateway
	for _, gw := range s.gateways {
		if labelsMatch(gw.Spec.GetSelector(), p.Labels) {
			out = append(out, gw)
		}
	}
	return out
}
