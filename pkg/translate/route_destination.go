package translate

import (
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
	networking "istio.io/api/networking/v1alpha3"

	"loom.dev/loom/pkg/model"
	"loom.dev/loom/pkg/validation"
)

// destination is a resolved Destination: the cluster traffic goes to.
type destination struct {
	cluster string
	// svc is nil when no service of that host is visible to the proxy.
	svc    *model.Service
	port   uint32
	subset string
}

// resolveDestination completes a Destination as Istio does: a short host is
// a service in the VirtualService's namespace; a missing port is the
// service's only port, or else the port traffic arrives on. A destination
// that names an unknown host, port or subset still gets its cluster name —
// requests to it fail, as in Istio — and a problem; one whose cluster name
// cannot even be formed is left out.
func (rb *routeBuilder) resolveDestination(d *networking.Destination, at origin) (destination, bool) {
	if d.GetHost() == "" {
		rb.report(at.at(".host"), "required; the route is left out")
		return destination{}, false
	}
	host := model.ResolveHost(d.GetHost(), rb.ns, rb.snap.DomainSuffix())
	if strings.Contains(host, "*") || strings.Contains(host, "|") {
		rb.report(at.at(".host"), "%q is not a single host; the route is left out", d.GetHost())
		return destination{}, false
	}
	svc := rb.snap.ServiceFor(rb.p.Namespace, host)
	port := d.GetPort().GetNumber()
	arrival := false
	switch {
	case port != 0:
	case svc != nil && len(svc.Ports) == 1:
		port = svc.Ports[0].Number
	case rb.port != 0:
		// Istio's choice, even if the service lacks that port.
		port, arrival = rb.port, true
	default:
		rb.report(at.at(".port"), "required: %s is not a service with one port; the route is left out", host)
		return destination{}, false
	}
	if port > 65535 {
		rb.report(at.at(".port.number"), "%d is not a port number; the route is left out", port)
		return destination{}, false
	}
	switch {
	case svc == nil:
		rb.report(at.at(".host"), "no service %s is visible from namespace %s; requests routed to it fail", host, rb.p.Namespace)
	case !hasPort(svc, port) && arrival:
		rb.report(at.at(".port"), "required: service %s has %d ports and none is %d, the port requests arrive on (Istio's choice when none is given); requests routed to it fail",
			host, len(svc.Ports), port)
	case !hasPort(svc, port):
		rb.report(at.at(".port.number"), "service %s has no port %d; requests routed to it fail", host, port)
	}
	subset := d.GetSubset()
	if subset != "" {
		if err := validation.SubsetName(subset); err != nil {
			rb.report(at.at(".subset"), "%v; the route is left out", err)
			return destination{}, false
		}
		if _, ok := rb.knownSubset(svc, subset); !ok {
			rb.report(at.at(".subset"), "no DestinationRule for %s defines subset %q; requests routed to it fail", host, subset)
		}
	}
	return destination{cluster: ClusterName(Outbound, port, subset, host), svc: svc, port: port, subset: subset}, true
}

func (rb *routeBuilder) knownSubset(svc *model.Service, subset string) (int, bool) {
	if svc == nil {
		return 0, false
	}
	return rb.policyFor(svc).subset(subset)
}

func hasPort(svc *model.Service, port uint32) bool {
	_, ok := svc.Port(port)
	return ok
}

// setDestinations points the action at the route's destinations: one
// cluster, or weighted clusters. Header changes of a single destination
// join the route's; those of weighted ones stay with their cluster.
func (rb *routeBuilder) setDestinations(r *routev3.Route, action *routev3.RouteAction, http *networking.HTTPRoute, at origin) ([]destination, bool) {
	dests := http.GetRoute()
	if len(dests) == 1 {
		dat := at.at(".route[0]")
		if w := dests[0].GetWeight(); w != 0 && w != 100 {
			rb.report(dat.at(".weight"), "%d has no effect: the only destination gets all requests", w)
		}
		d, ok := rb.resolveDestination(dests[0].GetDestination(), dat.at(".destination"))
		if !ok {
			return nil, false
		}
		ops, ok := rb.headerOperations(dests[0].GetHeaders(), dat.at(".headers"))
		if !ok {
			return nil, false
		}
		ops.applyTo(r)
		if ops.authority != "" && action.HostRewriteSpecifier == nil {
			action.HostRewriteSpecifier = &routev3.RouteAction_HostRewriteLiteral{HostRewriteLiteral: ops.authority}
		}
		action.ClusterSpecifier = &routev3.RouteAction_Cluster{Cluster: d.cluster}
		return []destination{d}, true
	}
	weights := make([]int32, len(dests))
	for i, d := range dests {
		weights[i] = d.GetWeight()
	}
	if field, err := checkWeights(weights); err != nil {
		rb.report(at.at(".route%s", field), "%v; the route is left out", err)
		return nil, false
	}
	var out []destination
	weighted := &routev3.WeightedCluster{}
	for i, dst := range dests {
		if dst.GetWeight() == 0 {
			continue
		}
		dat := at.at(".route[%d]", i)
		d, ok := rb.resolveDestination(dst.GetDestination(), dat.at(".destination"))
		if !ok {
			return nil, false
		}
		ops, ok := rb.headerOperations(dst.GetHeaders(), dat.at(".headers"))
		if !ok {
			return nil, false
		}
		cw := &routev3.WeightedCluster_ClusterWeight{Name: d.cluster, Weight: wrapperspb.UInt32(uint32(dst.GetWeight()))}
		ops.applyToCluster(cw)
		weighted.Clusters = append(weighted.Clusters, cw)
		out = append(out, d)
	}
	if msg := weightsShare(weights); msg != "" {
		rb.report(at.at(".route"), "%s", msg)
	}
	action.ClusterSpecifier = &routev3.RouteAction_WeightedClusters{WeightedClusters: weighted}
	return out, true
}

// hashPolicies returns the hash keys of the destinations' consistent-hash
// load balancers, as merged for their port and subset, without repeats.
func (rb *routeBuilder) hashPolicies(dests []destination) []*routev3.RouteAction_HashPolicy {
	var out []*routev3.RouteAction_HashPolicy
	for _, d := range dests {
		hp := rb.hashPolicy(d)
		if hp == nil {
			continue
		}
		dup := false
		for _, seen := range out {
			dup = dup || proto.Equal(seen, hp)
		}
		if !dup {
			out = append(out, hp)
		}
	}
	return out
}

func (rb *routeBuilder) hashPolicy(d destination) *routev3.RouteAction_HashPolicy {
	if d.svc == nil {
		return nil
	}
	dp := rb.policyFor(d.svc)
	pol := dp.forPort(d.port)
	if i, ok := dp.subset(d.subset); ok && d.subset != "" {
		pol = dp.forSubset(d.port, i)
	}
	ch := pol.loadBalancer.GetConsistentHash()
	at := pol.loadBalancerAt.at(".consistentHash")
	switch key := ch.GetHashKey().(type) {
	case *networking.LoadBalancerSettings_ConsistentHashLB_HttpHeaderName:
		if err := validation.HeaderName(key.HttpHeaderName); err != nil {
			rb.report(at.at(".httpHeaderName"), "%v; no hash key is used", err)
			return nil
		}
		return &routev3.RouteAction_HashPolicy{PolicySpecifier: &routev3.RouteAction_HashPolicy_Header_{
			Header: &routev3.RouteAction_HashPolicy_Header{HeaderName: key.HttpHeaderName},
		}}
	case *networking.LoadBalancerSettings_ConsistentHashLB_HttpCookie:
		c := key.HttpCookie
		if err := validation.Duration(c.GetTtl()); c.GetName() == "" || err != nil {
			rb.report(at.at(".httpCookie"), "a cookie needs a name and a valid ttl; no hash key is used")
			return nil
		}
		return &routev3.RouteAction_HashPolicy{PolicySpecifier: &routev3.RouteAction_HashPolicy_Cookie_{
			Cookie: &routev3.RouteAction_HashPolicy_Cookie{Name: c.GetName(), Path: c.GetPath(), Ttl: c.GetTtl()},
		}}
	case *networking.LoadBalancerSettings_ConsistentHashLB_UseSourceIp:
		return &routev3.RouteAction_HashPolicy{PolicySpecifier: &routev3.RouteAction_HashPolicy_ConnectionProperties_{
			ConnectionProperties: &routev3.RouteAction_HashPolicy_ConnectionProperties{SourceIp: key.UseSourceIp},
		}}
	case *networking.LoadBalancerSettings_ConsistentHashLB_HttpQueryParameterName:
		if key.HttpQueryParameterName == "" {
			rb.report(at.at(".httpQueryParameterName"), "empty name; no hash key is used")
			return nil
		}
		return &routev3.RouteAction_HashPolicy{PolicySpecifier: &routev3.RouteAction_HashPolicy_QueryParameter_{
			QueryParameter: &routev3.RouteAction_HashPolicy_QueryParameter{Name: key.HttpQueryParameterName},
		}}
	}
	return nil
}
