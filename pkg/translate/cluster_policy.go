package translate

import (
	networking "istio.io/api/networking/v1alpha3"

	"loom.dev/loom/pkg/model"
)

const kindDestinationRule = "DestinationRule"

// destinationPolicy is the DestinationRule that applies to traffic from one
// proxy to one service, merged as model.Snapshot.DestinationRuleFor merges
// it (subsets from every rule, the first of a name winning; the traffic
// policy of the oldest rule that has one), remembering where each part was
// written so problems can name the object and field.
type destinationPolicy struct {
	policy   *networking.TrafficPolicy
	policyAt origin
	subsets  []*networking.Subset
	// subsetAt[i] is where subsets[i] was written.
	subsetAt []origin
}

func destinationPolicyFor(snap *model.Snapshot, p model.Proxy, svc *model.Service) destinationPolicy {
	var d destinationPolicy
	seen := map[string]bool{}
	for _, dr := range snap.DestinationRuleSources(p, svc) {
		o := origin{kind: kindDestinationRule, meta: dr.Meta}
		if d.policy == nil && dr.Spec.GetTrafficPolicy() != nil {
			d.policy, d.policyAt = dr.Spec.GetTrafficPolicy(), o.at("spec.trafficPolicy")
		}
		for i, ss := range dr.Spec.GetSubsets() {
			if !seen[ss.GetName()] {
				seen[ss.GetName()] = true
				d.subsets = append(d.subsets, ss)
				d.subsetAt = append(d.subsetAt, o.at("spec.subsets[%d]", i))
			}
		}
	}
	return d
}

func (d destinationPolicy) subset(name string) (int, bool) {
	for i, ss := range d.subsets {
		if ss.GetName() == name {
			return i, true
		}
	}
	return 0, false
}

// clusterPolicy is the traffic policy of one cluster, each part with where
// it was written.
type clusterPolicy struct {
	loadBalancer       *networking.LoadBalancerSettings
	loadBalancerAt     origin
	connectionPool     *networking.ConnectionPoolSettings
	connectionPoolAt   origin
	outlierDetection   *networking.OutlierDetection
	outlierDetectionAt origin
	tls                *networking.ClientTLSSettings
	tlsAt              origin
}

// forPort is the destination-level policy with the port-level settings for
// port applied.
func (d destinationPolicy) forPort(port uint32) clusterPolicy {
	var c clusterPolicy
	c.override(d.policy, d.policyAt)
	c.applyPortLevel(d.policy, d.policyAt, port)
	return c
}

// forSubset layers subset i's policy over forPort(port), as Istio does:
// the subset's parts replace the destination's, then the subset's own
// port-level settings apply.
func (d destinationPolicy) forSubset(port uint32, i int) clusterPolicy {
	c := d.forPort(port)
	sp := d.subsets[i].GetTrafficPolicy()
	at := d.subsetAt[i].at(".trafficPolicy")
	c.override(sp, at)
	c.applyPortLevel(sp, at, port)
	return c
}

// override replaces each part that p sets.
func (c *clusterPolicy) override(p *networking.TrafficPolicy, at origin) {
	if p.GetLoadBalancer() != nil {
		c.loadBalancer, c.loadBalancerAt = p.GetLoadBalancer(), at.at(".loadBalancer")
	}
	if p.GetConnectionPool() != nil {
		c.connectionPool, c.connectionPoolAt = p.GetConnectionPool(), at.at(".connectionPool")
	}
	if p.GetOutlierDetection() != nil {
		c.outlierDetection, c.outlierDetectionAt = p.GetOutlierDetection(), at.at(".outlierDetection")
	}
	if p.GetTls() != nil {
		c.tls, c.tlsAt = p.GetTls(), at.at(".tls")
	}
}

// applyPortLevel replaces every part with the first port-level setting for
// port, unset parts included: Istio documents that port-level settings do
// not inherit from the destination level.
func (c *clusterPolicy) applyPortLevel(p *networking.TrafficPolicy, at origin, port uint32) {
	for i, pl := range p.GetPortLevelSettings() {
		if pl.GetPort().GetNumber() != port {
			continue
		}
		plAt := at.at(".portLevelSettings[%d]", i)
		c.loadBalancer, c.loadBalancerAt = pl.GetLoadBalancer(), plAt.at(".loadBalancer")
		c.connectionPool, c.connectionPoolAt = pl.GetConnectionPool(), plAt.at(".connectionPool")
		c.outlierDetection, c.outlierDetectionAt = pl.GetOutlierDetection(), plAt.at(".outlierDetection")
		c.tls, c.tlsAt = pl.GetTls(), plAt.at(".tls")
		return
	}
}
