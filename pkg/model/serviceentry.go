package model

import (
	"fmt"
	"slices"
	"strings"

	networking "istio.io/api/networking/v1alpha3"
)

const kindServiceEntry = "ServiceEntry"

// serviceEntryServices turns each host of each valid ServiceEntry into a
// Service, with endpoints from its inline endpoints, or from the
// WorkloadEntries and workloads its workloadSelector picks.
func (s *Snapshot) serviceEntryServices(in Input) []*Service {
	var out []*Service
	for _, se := range sortedByAge(slices.Clone(in.ServiceEntries)) {
		if !s.validServiceEntry(se) {
			continue
		}
		exportTo, err := ParseExportTo(se.Spec.GetExportTo(), se.Namespace)
		if err != nil {
			s.report(kindServiceEntry, se.Meta, "spec.exportTo", "%v", err)
			continue
		}
		ports := serviceEntryPorts(se.Spec)
		endpoints := s.serviceEntryEndpoints(se, in)
		for _, host := range se.Spec.GetHosts() {
			svc := &Service{
				Hostname:     host,
				Namespace:    se.Namespace,
				Source:       SourceServiceEntry,
				Name:         se.Name,
				Addresses:    slices.Clone(se.Spec.GetAddresses()),
				Ports:        ports,
				Resolution:   seResolution(se.Spec.GetResolution()),
				MeshExternal: se.Spec.GetLocation() == networking.ServiceEntry_MESH_EXTERNAL,
				ExportTo:     exportTo,
				Endpoints:    endpoints,
				Selector:     se.Spec.GetWorkloadSelector().GetLabels(),
			}
			if svc.Resolution == ResolutionDNS || svc.Resolution == ResolutionDNSRoundRobin {
				if len(svc.Endpoints) == 0 {
					// Without endpoints, a DNS ServiceEntry resolves its own host.
					svc.Endpoints = []*Endpoint{{Address: host}}
				}
			}
			if svc.Resolution == ResolutionPassthrough {
				svc.Endpoints = nil
			}
			out = append(out, svc)
		}
	}
	return out
}

func (s *Snapshot) validServiceEntry(se *ServiceEntry) bool {
	spec := se.Spec
	valid := true
	bad := func(field, format string, args ...any) {
		s.report(kindServiceEntry, se.Meta, field, format, args...)
		valid = false
	}
	if spec == nil {
		bad("spec", "missing")
		return false
	}
	if len(spec.GetHosts()) == 0 {
		bad("spec.hosts", "at least one host is required")
	}
	dns := spec.GetResolution() == networking.ServiceEntry_DNS || spec.GetResolution() == networking.ServiceEntry_DNS_ROUND_ROBIN
	for i, h := range spec.GetHosts() {
		switch {
		case h == "":
			bad(fmt.Sprintf("spec.hosts[%d]", i), "empty host")
		case !validHostname(h):
			bad(fmt.Sprintf("spec.hosts[%d]", i), "%q is not a DNS name", h)
		case dns && strings.Contains(h, "*") && len(spec.GetEndpoints()) == 0:
			bad(fmt.Sprintf("spec.hosts[%d]", i), "wildcard host %q needs endpoints with DNS resolution", h)
		}
	}
	if len(spec.GetPorts()) == 0 {
		bad("spec.ports", "at least one port is required")
	}
	for i, p := range spec.GetPorts() {
		if p.GetNumber() == 0 || p.GetNumber() > 65535 {
			bad(fmt.Sprintf("spec.ports[%d].number", i), "%d is not a port number", p.GetNumber())
		}
	}
	if spec.GetWorkloadSelector() != nil && len(spec.GetEndpoints()) > 0 {
		bad("spec.workloadSelector", "cannot be combined with endpoints")
	}
	if spec.GetResolution() == networking.ServiceEntry_STATIC {
		for i, ep := range spec.GetEndpoints() {
			if ep.GetAddress() == "" {
				bad(fmt.Sprintf("spec.endpoints[%d].address", i), "required with STATIC resolution")
			}
		}
	}
	return valid
}

func serviceEntryPorts(spec *networking.ServiceEntry) []Port {
	ports := make([]Port, 0, len(spec.GetPorts()))
	for _, p := range spec.GetPorts() {
		proto := ParseProtocol(p.GetProtocol())
		if p.GetProtocol() == "" {
			proto = ProtocolFromPortName(p.GetName())
		}
		ports = append(ports, Port{Name: p.GetName(), Number: p.GetNumber(), Protocol: proto, TargetPort: p.GetTargetPort()})
	}
	return ports
}

func seResolution(r networking.ServiceEntry_Resolution) Resolution {
	switch r {
	case networking.ServiceEntry_STATIC:
		return ResolutionEndpoints
	case networking.ServiceEntry_DNS:
		return ResolutionDNS
	case networking.ServiceEntry_DNS_ROUND_ROBIN:
		return ResolutionDNSRoundRobin
	}
	return ResolutionPassthrough
}

func (s *Snapshot) serviceEntryEndpoints(se *ServiceEntry, in Input) []*Endpoint {
	var out []*Endpoint
	for _, we := range se.Spec.GetEndpoints() {
		out = append(out, workloadEntryEndpoint(we))
	}
	if sel := se.Spec.GetWorkloadSelector(); sel != nil {
		for _, we := range in.WorkloadEntries {
			if we.Namespace == se.Namespace && we.Spec != nil && labelsMatch(sel.GetLabels(), we.Spec.GetLabels()) {
				out = append(out, workloadEntryEndpoint(we.Spec))
			}
		}
		for _, w := range in.Workloads {
			if w.Namespace == se.Namespace && w.Address != "" && labelsMatch(sel.GetLabels(), w.Labels) {
				out = append(out, &Endpoint{Address: w.Address, Labels: w.Labels, Locality: w.Locality, ServiceAccount: w.ServiceAccount, Health: w.Health})
			}
		}
	}
	SortEndpoints(out)
	return out
}

func workloadEntryEndpoint(we *networking.WorkloadEntry) *Endpoint {
	return &Endpoint{
		Address:        we.GetAddress(),
		Ports:          we.GetPorts(),
		Labels:         we.GetLabels(),
		Locality:       ParseLocality(we.GetLocality()),
		ServiceAccount: we.GetServiceAccount(),
		Weight:         we.GetWeight(),
	}
}

// SortEndpoints orders endpoints by address, so equal inputs give equal output.
func SortEndpoints(eps []*Endpoint) {
	slices.SortStableFunc(eps, func(a, b *Endpoint) int { return strings.Compare(a.Address, b.Address) })
}
