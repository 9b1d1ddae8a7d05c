package model

import "strings"

// Protocol is the application protocol of a service port, as Istio names it.
type Protocol string

const (
	ProtocolHTTP    Protocol = "HTTP"
	ProtocolHTTP2   Protocol = "HTTP2"
	ProtocolGRPC    Protocol = "GRPC"
	ProtocolHTTPS   Protocol = "HTTPS"
	ProtocolTLS     Protocol = "TLS"
	ProtocolTCP     Protocol = "TCP"
	ProtocolMongo   Protocol = "Mongo"
	ProtocolUnknown Protocol = "UNKNOWN"
)

// ParseProtocol maps a protocol name (case-insensitive, as in ServiceEntry
// ports or Kubernetes appProtocol) to a Protocol; unknown names map to
// ProtocolUnknown.
func ParseProtocol(s string) Protocol {
	switch strings.ToUpper(s) {
	case "HTTP", "HTTP1.1":
		return ProtocolHTTP
	case "HTTP2", "H2C", "KUBERNETES.IO/H2C":
		return ProtocolHTTP2
	case "GRPC", "GRPC-WEB":
		return ProtocolGRPC
	case "HTTPS":
		return ProtocolHTTPS
	case "TLS":
		return ProtocolTLS
	case "TCP":
		return ProtocolTCP
	case "MONGO":
		return ProtocolMongo
	}
	return ProtocolUnknown
}

// ProtocolFromPortName applies Istio's port naming convention: the protocol is
// the part of the name before the first dash ("http-web", "grpc").
func ProtocolFromPortName(name string) Protocol {
	prefix, _, _ := strings.Cut(name, "-")
	return ParseProtocol(prefix)
}

// IsHTTP reports whether traffic on the port is routed by HTTP attributes.
func (p Protocol) IsHTTP() bool {
	return p == ProtocolHTTP || p == ProtocolHTTP2 || p == ProtocolGRPC
}

// Port is one port of a service.
type Port struct {
	Name     string
	Number   uint32
	Protocol Protocol
	// TargetPort is the endpoint port when endpoints do not name their own
	// (ServiceEntry targetPort, a numeric Kubernetes targetPort). Zero means
	// the service port.
	TargetPort uint32
}

// Resolution says how a proxy finds the endpoints of a service.
type Resolution int

const (
	// ResolutionEndpoints: the control plane sends the endpoints (EDS).
	ResolutionEndpoints Resolution = iota
	// ResolutionDNS: the proxy resolves the endpoint addresses by DNS.
	ResolutionDNS
	// ResolutionDNSRoundRobin: the proxy resolves one name and uses its answers in turn.
	ResolutionDNSRoundRobin
	// ResolutionPassthrough: the proxy forwards to the original destination.
	ResolutionPassthrough
)

// Source names where a service came from.
type Source string

const (
	SourceKubernetes   Source = "Service"
	SourceServiceEntry Source = "ServiceEntry"
)

// Service is a named destination in the mesh.
type Service struct {
	// Hostname is the fully qualified name proxies route to, for example
	// "reviews.default.svc.cluster.local" or "api.example.com".
	Hostname  string
	Namespace string
	// Source and Name identify the object the service came from.
	Source Source
	Name   string
	// Addresses are the virtual IPs (ClusterIP, ServiceEntry addresses).
	Addresses    []string
	Ports        []Port
	Resolution   Resolution
	MeshExternal bool
	ExportTo     ExportTo
	// Selector picks the workloads (pods, WorkloadEntries) in Namespace
	// that serve this service; a proxy whose labels it matches receives
	// inbound configuration for its ports. Nil selects nothing.
	Selector map[string]string
	// Endpoints are sorted by address; empty for ResolutionPassthrough.
	Endpoints []*Endpoint
}

// Port returns the service port with the given number.
func (s *Service) Port(number uint32) (Port, bool) {
	for _, p := range s.Ports {
		if p.Number == number {
			return p, true
		}
	}
	return Port{}, false
}

// Health is an endpoint's state as a load balancer sees it.
type Health int

const (
	Healthy Health = iota
	Unhealthy
	// Draining endpoints are terminating but still serving: kept for
	// existing connections, not picked for new ones.
	Draining
)

// Endpoint is one instance of a service.
type Endpoint struct {
	// Address is an IP, or a DNS name for ResolutionDNS services.
	Address string
	// Ports maps a service port name to the port this endpoint listens on.
	// A service port missing here is served on its TargetPort, or its own
	// number.
	Ports          map[string]uint32
	Labels         map[string]string
	Locality       Locality
	ServiceAccount string
	Health         Health
	// Weight is the load-balancing weight; zero means 1.
	Weight uint32
}

// PortFor returns the port of this endpoint for a service port.
func (e *Endpoint) PortFor(p Port) uint32 {
	if n, ok := e.Ports[p.Name]; ok && n != 0 {
		return n
	}
	if p.TargetPort != 0 {
		return p.TargetPort
	}
	return p.Number
}

// Locality is where an endpoint runs.
type Locality struct {
	Region, Zone, Subzone string
}

// ParseLocality reads Istio's "region/zone/subzone" form.
func ParseLocality(s string) Locality {
	parts := strings.SplitN(s, "/", 3)
	var l Locality
	if len(parts) > 0 {
		l.Region = parts[0]
	}
	if len(parts) > 1 {
		l.Zone = parts[1]
	}
	if len(parts) > 2 {
		l.Subzone = parts[2]
	}
	return l
}

func (l Locality) String() string {
	switch {
	case l.Subzone != "":
		return l.Region + "/" + l.Zone + "/" + l.Subzone
	case l.Zone != "":
		return l.Region + "/" + l.Zone
	}
	return l.Region
}
