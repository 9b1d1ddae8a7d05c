package translate

import (
	"cmp"
	"math"
	"net/netip"
	"slices"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"loom.dev/loom/pkg/model"
)

// serviceOrigin names the object a service came from, for problems about
// its endpoints.
func serviceOrigin(svc *model.Service) origin {
	return origin{kind: string(svc.Source), meta: model.Meta{Name: svc.Name, Namespace: svc.Namespace}, field: "spec.endpoints"}
}

// selectEndpoints returns the endpoints of svc whose labels include the
// subset's labels, with their port for the service port, in address order
// and without repeats of one address and port. Endpoints a proxy would
// reject (a name where an IP is needed, a port out of range) are reported
// and left out.
func (b *clusterBuilder) selectEndpoints(svc *model.Service, port model.Port, labels map[string]string, needIP bool) []endpointAt {
	var out []endpointAt
	type addrPort struct {
		addr string
		port uint32
	}
	seen := make(map[addrPort]bool, len(svc.Endpoints))
	for _, ep := range svc.Endpoints {
		if !labelsInclude(ep.Labels, labels) {
			continue
		}
		p := ep.PortFor(port)
		switch {
		case p == 0 || p > 65535:
			b.problems = append(b.problems, serviceOrigin(svc).problem("endpoint %s: port %d for service port %d is out of range", ep.Address, p, port.Number))
			continue
		case needIP && !isIP(ep.Address):
			b.problems = append(b.problems, serviceOrigin(svc).problem("endpoint address %q is not an IP address", ep.Address))
			continue
		case !needIP && !validHostOrIP(ep.Address):
			b.problems = append(b.problems, serviceOrigin(svc).problem("endpoint address %q is neither an IP address nor a DNS name", ep.Address))
			continue
		}
		key := addrPort{ep.Address, p}
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, endpointAt{ep: ep, port: p})
	}
	return out
}

type endpointAt struct {
	ep   *model.Endpoint
	port uint32
}

func labelsInclude(labels, selector map[string]string) bool {
	for k, v := range selector {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

func validHostOrIP(s string) bool {
	return isIP(s) || model.IsDNSName(strings.TrimSuffix(s, "."))
}

// localityEndpoints groups endpoints by locality, localities sorted. Each
// locality weighs the sum of its endpoints' weights: gRPC ignores
// localities without a weight.
func (b *clusterBuilder) localityEndpoints(svc *model.Service, eps []endpointAt, withHealth bool) []*endpointv3.LocalityLbEndpoints {
	byLocality := map[model.Locality]*endpointv3.LocalityLbEndpoints{}
	weights := map[model.Locality]uint64{}
	for _, e := range eps {
		l := e.ep.Locality
		group := byLocality[l]
		if group == nil {
			group = &endpointv3.LocalityLbEndpoints{Locality: &corev3.Locality{Region: l.Region, Zone: l.Zone, SubZone: l.Subzone}}
			byLocality[l] = group
		}
		lbe := &endpointv3.LbEndpoint{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
			Address: socketAddress(e.ep.Address, e.port),
		}}}
		if withHealth {
			lbe.HealthStatus = healthStatus(e.ep.Health)
		}
		if !b.grpc() {
			lbe.Metadata = endpointMetadata(e.ep)
		}
		w := max(e.ep.Weight, 1)
		if e.ep.Weight > 1 {
			lbe.LoadBalancingWeight = wrapperspb.UInt32(e.ep.Weight)
		}
		weights[l] += uint64(w)
		group.LbEndpoints = append(group.LbEndpoints, lbe)
	}
	var total uint64
	out := make([]*endpointv3.LocalityLbEndpoints, 0, len(byLocality))
	for l, group := range byLocality {
		total += weights[l]
		group.LoadBalancingWeight = wrapperspb.UInt32(uint32(min(weights[l], math.MaxUint32)))
		out = append(out, group)
	}
	if total > math.MaxUint32 {
		// Proxies reject weights that overflow; fall back to equal weights.
		b.problems = append(b.problems, serviceOrigin(svc).problem("endpoint weights add up to more than %d; using equal weights", uint64(math.MaxUint32)))
		for _, group := range out {
			for _, lbe := range group.LbEndpoints {
				lbe.LoadBalancingWeight = nil
			}
			group.LoadBalancingWeight = wrapperspb.UInt32(uint32(len(group.LbEndpoints)))
		}
	}
	slices.SortFunc(out, func(a, b *endpointv3.LocalityLbEndpoints) int {
		return cmp.Or(strings.Compare(a.Locality.Region, b.Locality.Region),
			strings.Compare(a.Locality.Zone, b.Locality.Zone), strings.Compare(a.Locality.SubZone, b.Locality.SubZone))
	})
	return out
}

func healthStatus(h model.Health) corev3.HealthStatus {
	switch h {
	case model.Unhealthy:
		return corev3.HealthStatus_UNHEALTHY
	case model.Draining:
		return corev3.HealthStatus_DRAINING
	}
	return corev3.HealthStatus_HEALTHY
}

// loadAssignment is the ClusterLoadAssignment of an EDS cluster. A subset
// that selects no endpoint gets an empty assignment, not an error.
func (b *clusterBuilder) loadAssignment(name string, svc *model.Service, port model.Port, labels map[string]string) *endpointv3.ClusterLoadAssignment {
	eps := b.selectEndpoints(svc, port, labels, true)
	return &endpointv3.ClusterLoadAssignment{ClusterName: name, Endpoints: b.localityEndpoints(svc, eps, true)}
}
