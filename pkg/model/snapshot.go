package model

import (
	"fmt"
	"slices"
	"strings"
)

// Input is everything a Snapshot is built from. The discovery side converts
// Kubernetes objects into it; tests write it by hand.
type Input struct {
	// DomainSuffix completes short hostnames; DefaultDomainSuffix if empty.
	DomainSuffix string
	// RootNamespace holds mesh-wide defaults (Sidecar, DestinationRule).
	RootNamespace string
	// RegistryOnly is the mesh config's outboundTrafficPolicy REGISTRY_ONLY
	// (else ALLOW_ANY): the default for proxies whose Sidecar sets none.
	RegistryOnly bool
	// RouteDefaults are the mesh config's defaults for HTTP routes.
	RouteDefaults RouteDefaults
	// Services from Kubernetes, with their endpoints filled in.
	Services         []*Service
	Workloads        []*Workload
	ServiceEntries   []*ServiceEntry
	WorkloadEntries  []*WorkloadEntry
	VirtualServices  []*VirtualService
	DestinationRules []*DestinationRule
	Gateways         []*Gateway
	Sidecars         []*Sidecar
	Credentials      []*Credential
	// PeerAuthentications decide which mTLS mode workload ports accept.
	PeerAuthentications []*PeerAuthentication
	// MeshMTLSMode is the mode where no PeerAuthentication applies
	// (PERMISSIVE if empty).
	MeshMTLSMode MTLSMode
	// TrustDomain names workload identities (DefaultTrustDomain if empty).
	TrustDomain string
	// AuthorizationPolicies decide which requests workloads let in.
	AuthorizationPolicies []*AuthorizationPolicy
	// RequestAuthentications decide which JWTs workloads verify.
	RequestAuthentications []*RequestAuthentication
	// FetchedJWKS are the keys the control plane fetched for JWT rules
	// without inline jwks; a rule whose source is missing fails closed.
	FetchedJWKS map[JWKSSource]FetchedJWKS
	// Telemetry is the mesh config's access logging and tracing.
	Telemetry Telemetry
	// RateLimitPolicies are policy.loom.dev RateLimitPolicy objects.
	RateLimitPolicies []*RateLimitPolicy
	// Telemetries are telemetry.istio.io Telemetry objects, merged with
	// Telemetry per proxy (TelemetryFor).
	Telemetries []*TelemetryPolicy
	// ExtensionProviders are the mesh config's external authorizers, which
	// CUSTOM AuthorizationPolicies name.
	ExtensionProviders []*ExtensionProvider
}

// Snapshot is an immutable, indexed view of the mesh.
type Snapshot struct {
	domainSuffix  string
	rootNamespace string
	registryOnly  bool
	routeDefaults RouteDefaults
	telemetry     Telemetry
	extProviders  []*ExtensionProvider

	services       []*Service            // sorted by hostname, then namespace
	servicesByHost map[string][]*Service // oldest source first

	virtualServices  []*BoundVirtualService // Istio precedence order: oldest first
	destinationRules map[string][]*boundDestinationRule
	gateways         []*Gateway
	sidecars         []*Sidecar
	credentials      map[string]*Credential

	peerAuthentications []*PeerAuthentication // oldest first
	meshMTLSMode        MTLSMode
	trustDomain         string

	authorizationPolicies []*AuthorizationPolicy // oldest first
	rateLimitPolicies     []rateLimitPolicy      // oldest first

	requestAuthentications []*RequestAuthentication // oldest first
	fetchedJWKS            map[JWKSSource]FetchedJWKS

	telemetries   []*TelemetryPolicy // oldest first
	badLogFilters map[string]bool    // filter expressions that do not parse

	// What LabelsShapeOutbound answers from.
	selectorNamespaces map[string]bool
	sourceLabelRoutes  bool

	problems []Problem
}

// Build indexes the input. Invalid objects are left out and reported by
// Problems; everything else is kept.
func Build(in Input) *Snapshot {
	s := &Snapshot{
		domainSuffix:  in.DomainSuffix,
		rootNamespace: in.RootNamespace,
		registryOnly:  in.RegistryOnly,
		routeDefaults: in.RouteDefaults,
		telemetry:     in.Telemetry,
		extProviders:  in.ExtensionProviders,
	}
	if s.domainSuffix == "" {
		s.domainSuffix = DefaultDomainSuffix
	}
	services := slices.Clone(in.Services)
	services = append(services, s.serviceEntryServices(in)...)
	s.indexServices(services)
	s.indexVirtualServices(in.VirtualServices)
	s.indexDestinationRules(in.DestinationRules)
	s.gateways = sortedByAge(s.validGateways(in.Gateways))
	s.sidecars = sortedByAge(s.validSidecars(in.Sidecars))
	s.indexCredentials(in.Credentials)
	s.meshMTLSMode, s.trustDomain = in.MeshMTLSMode, in.TrustDomain
	if s.meshMTLSMode == "" {
		s.meshMTLSMode = MTLSPermissive
	}
	if s.trustDomain == "" {
		s.trustDomain = DefaultTrustDomain
	}
	s.peerAuthentications = validPeerAuthentications(in.PeerAuthentications)
	s.checkPeerAuthentications(s.peerAuthentications)
	s.authorizationPolicies = validAuthorizationPolicies(in.AuthorizationPolicies)
	s.checkAuthorizationPolicies()
	s.requestAuthentications, s.fetchedJWKS = validRequestAuthentications(in.RequestAuthentications), in.FetchedJWKS
	s.checkRequestAuthentications()
	s.indexRateLimitPolicies(in.RateLimitPolicies)
	s.checkTelemetry()
	s.telemetries = validTelemetries(in.Telemetries)
	s.checkTelemetries()
	s.indexLabelScopedOutbound(in)
	slices.SortFunc(s.problems, func(a, b Problem) int {
		return strings.Compare(a.Kind+"/"+a.Meta.String()+"/"+a.Field, b.Kind+"/"+b.Meta.String()+"/"+b.Field)
	})
	return s
}

// DomainSuffix is the cluster domain short names are completed with.
func (s *Snapshot) DomainSuffix() string { return s.domainSuffix }

// RootNamespace is the namespace of mesh-wide defaults.
func (s *Snapshot) RootNamespace() string { return s.rootNamespace }

// RegistryOnly reports whether the mesh-wide outbound traffic policy is
// REGISTRY_ONLY.
func (s *Snapshot) RegistryOnly() bool { return s.registryOnly }

// Problems lists what was wrong in the input, sorted by object.
func (s *Snapshot) Problems() []Problem { return s.problems }

// Services returns every service, sorted by hostname.
func (s *Snapshot) Services() []*Service { return s.services }

func (s *Snapshot) report(kind string, m Meta, field, format string, args ...any) {
	s.problems = append(s.problems, Problem{Kind: kind, Meta: m, Field: field, Message: fmt.Sprintf(format, args...)})
}

func (s *Snapshot) indexServices(services []*Service) {
	slices.SortStableFunc(services, func(a, b *Service) int {
		if c := strings.Compare(a.Hostname, b.Hostname); c != 0 {
			return c
		}
		return strings.Compare(a.Namespace, b.Namespace)
	})
	s.services = services
	s.servicesByHost = make(map[string][]*Service, len(services))
	for _, svc := range services {
		s.servicesByHost[svc.Hostname] = append(s.servicesByHost[svc.Hostname], svc)
	}
}

// ServiceFor returns the service a proxy in namespace ns reaches under a
// hostname. When several namespaces define the host (ServiceEntries), the
// one in the proxy's own namespace wins, then the first visible one.
func (s *Snapshot) ServiceFor(ns, host string) *Service {
	var found *Service
	for _, svc := range s.servicesByHost[host] {
		if !svc.ExportTo.VisibleTo(ns) {
			continue
		}
		if svc.Namespace == ns {
			return svc
		}
		if found == nil {
			found = svc
		}
	}
	return found
}

// ServicesFor returns the services a proxy sees: visible to its namespace
// and allowed by the Sidecar that applies to it, one per hostname, sorted
// by hostname.
func (s *Snapshot) ServicesFor(p Proxy) []*Service {
	sidecar := s.SidecarFor(p)
	var out []*Service
	for i, svc := range s.services {
		if i > 0 && s.services[i-1].Hostname == svc.Hostname {
			continue
		}
		chosen := s.ServiceFor(p.Namespace, svc.Hostname)
		if chosen == nil || !s.egressAllows(sidecar, p.Namespace, chosen) {
			continue
		}
		out = append(out, chosen)
	}
	return out
}

func sortedByAge[T any](items []*Config[T]) []*Config[T] {
	slices.SortStableFunc(items, func(a, b *Config[T]) int {
		switch {
		case older(a.Meta, b.Meta):
			return -1
		case older(b.Meta, a.Meta):
			return 1
		}
		return 0
	})
	return items
}

func labelsMatch(selector, labels map[string]string) bool {
	for k, v := range selector {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// ServicesSelecting returns the services in the proxy's namespace whose
// selector matches its labels: the services it serves.
func (s *Snapshot) ServicesSelecting(p Proxy) []*Service {
	var out []*Service
	for _, svc := range s.services {
		if svc.Namespace == p.Namespace && len(svc.Selector) > 0 && labelsMatch(svc.Selector, p.Labels) {
			out = append(out, svc)
		}
	}
	return out
}
