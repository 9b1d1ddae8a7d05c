package translate

import (
	"math/big"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
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
// PASSTHROUGH is ignored: it always talks to endpoints directly.
func (b *clusterBuilder) applyLoadBalancer(c *clusterv3.Cluster, pol clusterPolicy) (passthrough bool) {
	lb, at := pol.loadBalancer, pol.loadBalancerAt
	c.LbPolicy = clusterv3.Cluster_LEAST_REQUEST
	if ch := lb.GetConsistentHash(); ch != nil {
		b.applyConsistentHash(c, ch, at.at(".consistentHash"))
		return false
	}
	switch lb.GetSimple() {
	case networking.LoadBalancerSettings_ROUND_ROBIN:
		c.LbPolicy = clusterv3.Cluster_ROUND_ROBIN
	case networking.LoadBalancerSettings_RANDOM:
		c.LbPolicy = clusterv3.Cluster_RANDOM
		if b.grpc() {
			c.LbPolicy = clusterv3.Cluster_ROUND_ROBIN
		}
	case networking.LoadBalancerSettings_PASSTHROUGH:
		return !b.grpc()
	}
	return false
}

func (b *clusterBuilder) applyConsistentHash(c *clusterv3.Cluster, ch *networking.LoadBalancerSettings_ConsistentHashLB, at origin) {
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
