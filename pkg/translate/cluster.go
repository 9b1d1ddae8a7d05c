package translate

import (
	"slices"
	"strings"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/types/known/durationpb"

	"loom.dev/loom/pkg/model"
	"loom.dev/loom/pkg/validation"
)

// defaultConnectTimeout is Istio's mesh-wide default connectTimeout.
const defaultConnectTimeout = 10 * time.Second

// clusterBuilder builds the outbound clusters of one proxy and collects the
// problems found on the way.
type clusterBuilder struct {
	snap     *model.Snapshot
	p        model.Proxy
	problems []model.Problem
}

func (b *clusterBuilder) report(o origin, format string, args ...any) {
	b.problems = append(b.problems, o.problem(format, args...))
}

func (b *clusterBuilder) grpc() bool { return b.p.Kind == model.KindGRPC }

// outboundClusters builds one cluster per (service, port) the proxy sees plus one per DestinationRule subset,
// named ClusterName(Outbound, port, subset, host) (see names.go), and the ClusterLoadAssignments for the EDS ones.
func outboundClusters(snap *model.Snapshot, p model.Proxy, services []*model.Service) (clusters, assignments []types.Resource, problems []model.Problem) {
	b := &clusterBuilder{snap: snap, p: p}
	seen := map[string]bool{}
	add := func(c *clusterv3.Cluster, cla *endpointv3.ClusterLoadAssignment) {
		if c == nil || seen[c.Name] {
			return // proxies reject repeated names; a port listed twice counts once
		}
		seen[c.Name] = true
		clusters = append(clusters, c)
		if cla != nil {
			assignments = append(assignments, cla)
		}
	}
	for _, svc := range services {
		dp := destinationPolicyFor(snap, p, svc)
		for _, port := range svc.Ports {
			add(b.cluster(svc, port, "", nil, dp.forPort(port.Number)))
			for i, ss := range dp.subsets {
				if err := validation.SubsetName(ss.GetName()); err != nil {
					b.report(dp.subsetAt[i].at(".name"), "%v; the subset is ignored", err)
					continue
				}
				add(b.cluster(svc, port, ss.GetName(), ss.GetLabels(), dp.forSubset(port.Number, i)))
			}
		}
	}
	slices.SortFunc(clusters, func(a, b types.Resource) int {
		return strings.Compare(a.(*clusterv3.Cluster).GetName(), b.(*clusterv3.Cluster).GetName())
	})
	slices.SortFunc(assignments, func(a, b types.Resource) int {
		return strings.Compare(a.(*endpointv3.ClusterLoadAssignment).GetClusterName(), b.(*endpointv3.ClusterLoadAssignment).GetClusterName())
	})
	return clusters, assignments, dedupeProblems(b.problems)
}

// cluster builds the cluster for one service port and subset ("" for the
// whole service) and, for EDS clusters, its load assignment. It returns
// nil when the policy cannot be honoured safely (TLS that cannot be
// configured): traffic then fails instead of leaving unprotected.
func (b *clusterBuilder) cluster(svc *model.Service, port model.Port, subset string, labels map[string]string, pol clusterPolicy) (*clusterv3.Cluster, *endpointv3.ClusterLoadAssignment) {
	name := ClusterName(Outbound, port.Number, subset, svc.Hostname)
	c := &clusterv3.Cluster{Name: name, ConnectTimeout: durationpb.New(defaultConnectTimeout)}
	passthrough := b.applyLoadBalancer(c, pol)
	var cla *endpointv3.ClusterLoadAssignment
	switch {
	case !b.grpc() && (passthrough || svc.Resolution == model.ResolutionPassthrough):
		// Proxyless clients cannot forward to an original destination: they
		// get the service's endpoints over EDS instead (headless services).
		c.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_ORIGINAL_DST}
		c.LbPolicy = clusterv3.Cluster_CLUSTER_PROVIDED
		c.LbConfig = nil
	case svc.Resolution == model.ResolutionDNS || svc.Resolution == model.ResolutionDNSRoundRobin:
		cla = b.dnsDiscovery(c, svc, port, labels)
	default:
		c.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS}
		c.EdsClusterConfig = &clusterv3.Cluster_EdsClusterConfig{ServiceName: name, EdsConfig: viaADS()}
		cla = b.loadAssignment(name, svc, port, labels)
	}
	b.applyConnectionPool(c, port, pol)
	b.applyOutlierDetection(c, pol)
	dst := clusterDestination{svc: svc, port: port, subset: subset, labels: labels,
		passthrough: passthrough || svc.Resolution == model.ResolutionPassthrough}
	if !b.applyTLS(c, dst, pol) {
		return nil, nil
	}
	if err := checkEnvoy(c); err != nil {
		b.report(serviceOrigin(svc).at("[cluster %s]", name), "%v", err)
		return nil, nil
	}
	return c, cla
}

// dnsDiscovery makes c resolve its endpoints by DNS: STRICT_DNS resolves
// every endpoint name, LOGICAL_DNS one. Proxyless gRPC supports only
// LOGICAL_DNS, and reads an empty EDS cluster where there is no name.
// Returns the load assignment when c became an EDS cluster.
func (b *clusterBuilder) dnsDiscovery(c *clusterv3.Cluster, svc *model.Service, port model.Port, labels map[string]string) *endpointv3.ClusterLoadAssignment {
	eps := b.selectEndpoints(svc, port, labels, false)
	logical := svc.Resolution == model.ResolutionDNSRoundRobin || b.grpc()
	if len(eps) == 0 && b.grpc() {
		c.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS}
		c.EdsClusterConfig = &clusterv3.Cluster_EdsClusterConfig{ServiceName: c.Name, EdsConfig: viaADS()}
		return &endpointv3.ClusterLoadAssignment{ClusterName: c.Name}
	}
	if logical && len(eps) > 1 {
		who := "DNS_ROUND_ROBIN resolution"
		if b.grpc() {
			who = "proxyless gRPC"
		}
		b.report(serviceOrigin(svc), "%s resolves a single DNS name; only %s is used", who, eps[0].ep.Address)
		eps = eps[:1]
	}
	typ := clusterv3.Cluster_STRICT_DNS
	if logical && len(eps) == 1 {
		typ = clusterv3.Cluster_LOGICAL_DNS
	}
	c.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: typ}
	c.DnsLookupFamily = clusterv3.Cluster_V4_ONLY
	//nolint:staticcheck // Istio sets it too; its replacement (the DNS cluster extension) is not understood by gRPC.
	c.RespectDnsTtl = true
	c.LoadAssignment = &endpointv3.ClusterLoadAssignment{ClusterName: c.Name, Endpoints: b.localityEndpoints(svc, eps, false)}
	return nil
}
