package translate

import (
	"math/big"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	leastrequestv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/least_request/v3"
	roundrobinv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/round_robin/v3"
	wrrlocalityv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/wrr_locality/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
	networking "istio.io/api/networking/v1alpha3"
)

// Limits proxies enforce: Envoy's ring hash and maglev table bounds; gRPC
// uses the same ring bound.
const (
	maxRingSize        = 8 * 1024 * 1024
	maxMaglevTableSize = 5000011
)

// applyLoadBalancer sets c's load-balancing policy from the DestinationRule:
// LEAST_REQUEST unless told otherwise (Istio's default); a consistent hash
// becomes RING_HASH or MAGLEV here while its hash key goes on the routes
// (see hashPolicyFor). It reports whether the rule asks for PASSTHROUGH,
// which the caller turns into an ORIGINAL_DST cluster.
//
// Proxyless gRPC implements only ROUND_ROBIN, LEAST_REQUEST and RING_HASH
// and rejects the whole cluster otherwise, so for it RANDOM becomes
// ROUND_ROBIN, MAGLEV becomes RING_HASH (both consistent hashes) and
// PASSTHROUGH is ignored: it always talks to endpoints directly. Not every
// gRPC has LEAST_REQUEST (gRPC-Go has, grpc-js has not), so gRPC is given it
// as a list of policies to pick from (see grpcLeastRequest).
func (b *clusterBuilder) applyLoadBalancer(c *clusterv3.Cluster, pol clusterPolicy) (passthrough bool) {
	lb, at := pol.loadBalancer, pol.loadBalancerAt
	c.LbPolicy = clusterv3.Cluster_LEAST_REQUEST
	if b.grpc() {
		c.LbPolicy, c.LoadBalancingPolicy = clusterv3.Cluster_ROUND_ROBIN, grpcLeastRequest
	}
	if ch := lb.GetConsistentHash(); ch != nil {
		b.applyConsistentHash(c, ch, at.at(".consistentHash"))
		return false
	}
	switch lb.GetSimple() {
	case networking.LoadBalancerSettings_ROUND_ROBIN:
		c.LbPolicy, c.LoadBalancingPolicy = clusterv3.Cluster_ROUND_ROBIN, nil
	case networking.LoadBalancerSettings_RANDOM:
		c.LbPolicy = clusterv3.Cluster_RANDOM
		if b.grpc() {
			c.LbPolicy, c.LoadBalancingPolicy = clusterv3.Cluster_ROUND_ROBIN, nil
		}
	case networking.LoadBalancerSettings_PASSTHROUGH:
		return !b.grpc()
	}
	return false
}

// grpcLeastRequest is LEAST_REQUEST for gRPC clients as a list of custom
// policies (gRFC A52): each client takes the first it implements, so one
// without least_request falls back to round_robin, both under wrr_locality,
// the locality layer gRPC puts under a plain lb_policy. lb_policy is set to
// ROUND_ROBIN beside it for clients that predate the field.
var grpcLeastRequest = &clusterv3.LoadBalancingPolicy{Policies: []*clusterv3.LoadBalancingPolicy_Policy{
	lbPolicy("envoy.load_balancing_policies.wrr_locality", &wrrlocalityv3.WrrLocality{
		EndpointPickingPolicy: &clusterv3.LoadBalancingPolicy{Policies: []*clusterv3.LoadBalancingPolicy_Policy{
			lbPolicy("envoy.load_balancing_policies.least_request", &leastrequestv3.LeastRequest{}),
			lbPolicy("envoy.load_balancing_policies.round_robin", &roundrobinv3.RoundRobin{}),
		}},
	}),
}}

func lbPolicy(name string, config proto.Message) *clusterv3.LoadBalancingPolicy_Policy {
	return &clusterv3.LoadBalancingPolicy_Policy{TypedExtensionConfig: &corev3.TypedExtensionConfig{Name: name, TypedConfig: anyOf(config)}}
}

func (b *clusterBuilder) applyConsistentHash(c *clusterv3.Cluster, ch *networking.LoadBalancerSettings_ConsistentHashLB, at origin) {
	c.LoadBalancingPolicy = nil
	if mg := ch.GetMaglev(); mg != nil && !b.grpc() {
		c.LbPolicy = clusterv3.Cluster_MAGLEV
		size := mg.GetTableSize()
		switch {
		case size == 0:
		case size > maxMaglevTableSize || !big.NewInt(0).SetUint64(size).ProbablyPrime(20):
			b.report(at.at(".maglev.tableSize"), "%d is not a prime of at most %d; using the default table size", size, maxMaglevTableSize)
		default:
			c.LbConfig = &clusterv3.Cluster_MaglevLbConfig_{MaglevLbConfig: &clusterv3.Cluster_MaglevLbConfig{TableSize: wrapperspb.UInt64(size)}}
		}
		return
	}
	c.LbPolicy = clusterv3.Cluster_RING_HASH
	size, sizeAt := ch.GetRingHash().GetMinimumRingSize(), at.at(".ringHash.minimumRingSize")
	//nolint:staticcheck // minimumRingSize is deprecated but users still write it.
	if ch.GetRingHash() == nil && ch.GetMinimumRingSize() != 0 {
		size, sizeAt = ch.GetMinimumRingSize(), at.at(".minimumRingSize")
	}
	switch {
	case size == 0:
	case size > maxRingSize:
		b.report(sizeAt, "%d is larger than the maximum ring size %d; using the default", size, maxRingSize)
	default:
		c.LbConfig = &clusterv3.Cluster_RingHashLbConfig_{RingHashLbConfig: &clusterv3.Cluster_RingHashLbConfig{MinimumRingSize: wrapperspb.UInt64(size)}}
	}
}
