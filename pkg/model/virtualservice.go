package model

import (
	"fmt"
	"slices"
	"strings"
)

const (
	kindVirtualService = "VirtualService"
	// MeshGateway is the reserved gateway name for sidecars and proxyless clients.
	MeshGateway = "mesh"
)

// BoundVirtualService is a VirtualService with its hosts and gateways
// resolved against its namespace.
type BoundVirtualService struct {
	*VirtualService
	// Hosts are fully qualified (or wildcards), in spec order.
	Hosts []string
	// Gateways are "mesh" or "namespace/name"; "mesh" when the spec names none.
	Gateways []string
	ExportTo ExportTo
}

func (s *Snapshot) indexVirtualServices(vss []*VirtualService) {
	for _, vs := range sortedByAge(slices.Clone(vss)) {
		if b := s.bindVirtualService(vs); b != nil {
			s.virtualServices = append(s.virtualServices, b)
		}
	}
	s.reportHostConflicts()
}

func (s *Snapshot) bindVirtualService(vs *VirtualService) *BoundVirtualService {
	if vs.Spec == nil {
		s.report(kindVirtualService, vs.Meta, "spec", "missing")
		return nil
	}
	exportTo, err := ParseExportTo(vs.Spec.GetExportTo(), vs.Namespace)
	if err != nil {
		s.report(kindVirtualService, vs.Meta, "spec.exportTo", "%v", err)
		return nil
	}
	b := &BoundVirtualService{VirtualService: vs, ExportTo: exportTo}
	for i, h := range vs.Spec.GetHosts() {
		if h == "" {
			s.report(kindVirtualService, vs.Meta, fmt.Sprintf("spec.hosts[%d]", i), "empty host")
			return nil
		}
		b.Hosts = append(b.Hosts, ResolveHost(h, vs.Namespace, s.domainSuffix))
	}
	for _, g := range vs.Spec.GetGateways() {
		b.Gateways = append(b.Gateways, ResolveGatewayName(g, vs.Namespace))
	}
	if len(b.Gateways) == 0 {
		b.Gateways = []string{MeshGateway}
	}
	return b
}

// ResolveGatewayName completes a gateway reference from an object in
// namespace ns: "mesh" stays, "name" becomes "ns/name".
func ResolveGatewayName(g, ns string) string {
	if g == MeshGateway || strings.Contains(g, "/") {
		return g
	}
	return ns + "/" + g
}

// reportHostConflicts reports mesh VirtualServices that lose a host to an
// older one visible to the same namespaces: Istio uses only the oldest.
func (s *Snapshot) reportHostConflicts() {
	owners := map[string][]*BoundVirtualService{}
	for _, b := range s.virtualServices {
		if !slices.Contains(b.Gateways, MeshGateway) {
			continue
		}
		for _, h := range b.Hosts {
			for _, o := range owners[h] {
				if overlaps(o, b) && !outranks(b, o) {
					s.report(kindVirtualService, b.Meta, "spec.hosts",
						"host %q is already routed by VirtualService %s, which is older; this one is ignored for it", h, o.Meta)
					break
				}
			}
			owners[h] = append(owners[h], b)
		}
	}
}

// outranks reports whether b, though newer, wins over o in the namespaces
// it is visible to: it is private to a namespace where o is not.
func outranks(b, o *BoundVirtualService) bool {
	ns, private := b.ExportTo.privateNamespace()
	return private && !o.ExportTo.Private(ns)
}

// overlaps reports whether some namespace sees both objects.
func overlaps(a, b *BoundVirtualService) bool {
	switch {
	case a.ExportTo.none || b.ExportTo.none:
		return false
	case a.ExportTo.all || len(a.ExportTo.namespaces) == 0:
		return true
	case b.ExportTo.all || len(b.ExportTo.namespaces) == 0:
		return true
	}
	for _, ns := range a.ExportTo.namespaces {
		if slices.Contains(b.ExportTo.namespaces, ns) {
			return true
		}
	}
	return false
}

// VirtualServices returns the VirtualServices bound to a gateway ("mesh" or
// "namespace/name") and visible to namespace ns, in Istio's precedence
// order: those private to ns first, then the rest, oldest first. Delegate
// VirtualServices (no hosts) are not returned: they apply only through the
// route that delegates to them.
func (s *Snapshot) VirtualServices(ns, gateway string) []*BoundVirtualService {
	var private, rest []*BoundVirtualService
	for _, b := range s.virtualServices {
		if len(b.Hosts) == 0 || !slices.Contains(b.Gateways, gateway) || !b.ExportTo.VisibleTo(ns) {
			continue
		}
		if b.ExportTo.Private(ns) {
			private = append(private, b)
		} else {
			rest = append(rest, b)
		}
	}
	return append(private, rest...)
}

// VirtualServiceFor returns the VirtualService that routes a hostname for
// mesh traffic from namespace ns: an exact host beats a wildcard, a longer
// wildcard beats a shorter one, and among equals the first in precedence
// order wins. Nil means default routing.
func (s *Snapshot) VirtualServiceFor(ns, host string) *BoundVirtualService {
	var best *BoundVirtualService
	bestHost := ""
	for _, b := range s.VirtualServices(ns, MeshGateway) {
		for _, h := range b.Hosts {
			if !HostMatches(h, host) {
				continue
			}
			if best == nil || moreSpecific(h, bestHost) {
				best, bestHost = b, h
			}
		}
	}
	return best
}

// Delegate returns the delegate VirtualService (one without hosts) a route
// names, or nil if it does not exist.
func (s *Snapshot) Delegate(name, namespace string) *BoundVirtualService {
	for _, b := range s.virtualServices {
		if len(b.Hosts) == 0 && b.Name == name && b.Namespace == namespace {
			return b
		}
	}
	return nil
}
