package translate

import (
	"fmt"
	"slices"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tcpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	networking "istio.io/api/networking/v1alpha3"

	"loom.dev/loom/pkg/model"
)

// l4Context is what tcp and tls routes are evaluated against: one proxy,
// the services it has clusters for, and the gateway it acts as ("mesh" for
// sidecars).
type l4Context struct {
	snap     *model.Snapshot
	proxy    model.Proxy
	gateway  string
	services map[string]*model.Service // by hostname: exactly those outboundClusters built clusters for
}

func newL4Context(snap *model.Snapshot, p model.Proxy, gateway string, services []*model.Service) *l4Context {
	byHost := make(map[string]*model.Service, len(services))
	for _, svc := range services {
		byHost[svc.Hostname] = svc
	}
	return &l4Context{snap: snap, proxy: p, gateway: gateway, services: byHost}
}

func tcpProxyToCluster(statPrefix, cluster string) *listenerv3.Filter {
	return networkFilter(tcpProxyFilterName, &tcpv3.TcpProxy{
		StatPrefix:       statPrefix,
		ClusterSpecifier: &tcpv3.TcpProxy_Cluster{Cluster: cluster},
	})
}

// tcpProxy builds the tcp_proxy filter for the destinations of one tcp or
// tls route at field (for example "spec.tcp[0].route"). ok is false when
// the route is left out: its weights cannot split traffic (see
// checkWeights). Weights not adding up to 100 split it in proportion, as
// in Istio, and are reported.
func (c *l4Context) tcpProxy(vs *model.BoundVirtualService, field string, dests []*networking.RouteDestination, listenPort uint32) (f *listenerv3.Filter, problems []model.Problem, ok bool) {
	if len(dests) == 0 {
		return nil, []model.Problem{vsProblem(vs, field, "at least one destination is required")}, false
	}
	if len(dests) == 1 {
		if w := dests[0].GetWeight(); w != 0 && w != 100 {
			problems = append(problems, vsProblem(vs, field+"[0].weight", fmt.Sprintf("%d has no effect: the only destination gets all connections", w)))
		}
	} else {
		weights := make([]int32, len(dests))
		for i, d := range dests {
			weights[i] = d.GetWeight()
		}
		if at, err := checkWeights(weights); err != nil {
			return nil, []model.Problem{vsProblem(vs, field+at, err.Error()+"; the route is ignored")}, false
		}
		if msg := weightsShare(weights); msg != "" {
			problems = append(problems, vsProblem(vs, field, msg))
		}
	}
	type weighted struct {
		cluster string
		weight  uint32
	}
	var picked []weighted
	for i, d := range dests {
		name, p := c.destinationCluster(vs, fmt.Sprintf("%s[%d].destination", field, i), d.GetDestination(), listenPort)
		if p != nil {
			problems = append(problems, *p)
		}
		w := uint32(d.GetWeight())
		if len(dests) == 1 {
			w = 100
		}
		if w == 0 {
			continue
		}
		if j := slices.IndexFunc(picked, func(p weighted) bool { return p.cluster == name }); j >= 0 {
			picked[j].weight += w
			continue
		}
		picked = append(picked, weighted{name, w})
	}
	if len(picked) == 1 {
		return tcpProxyToCluster(picked[0].cluster, picked[0].cluster), problems, true
	}
	clusters := make([]*tcpv3.TcpProxy_WeightedCluster_ClusterWeight, 0, len(picked))
	for _, w := range picked {
		clusters = append(clusters, &tcpv3.TcpProxy_WeightedCluster_ClusterWeight{Name: w.cluster, Weight: w.weight})
	}
	return networkFilter(tcpProxyFilterName, &tcpv3.TcpProxy{
		StatPrefix:       picked[0].cluster,
		ClusterSpecifier: &tcpv3.TcpProxy_WeightedClusters{WeightedClusters: &tcpv3.TcpProxy_WeightedCluster{Clusters: clusters}},
	}), problems, true
}

// destinationCluster names the cluster of a route destination. A
// destination this proxy has no cluster for is reported and sent to the
// BlackHoleCluster, which refuses the connection as a missing cluster would.
func (c *l4Context) destinationCluster(vs *model.BoundVirtualService, field string, d *networking.Destination, listenPort uint32) (string, *model.Problem) {
	if d.GetHost() == "" {
		p := vsProblem(vs, field+".host", "required")
		return BlackHoleCluster, &p
	}
	host := model.ResolveHost(d.GetHost(), vs.Namespace, c.snap.DomainSuffix())
	svc := c.services[host]
	if svc == nil {
		p := vsProblem(vs, field+".host", fmt.Sprintf("%q is not a service this proxy can reach", host))
		return BlackHoleCluster, &p
	}
	port := d.GetPort().GetNumber()
	if port == 0 {
		port = listenPort
		if len(svc.Ports) == 1 {
			port = svc.Ports[0].Number
		}
	}
	if _, ok := svc.Port(port); !ok {
		p := vsProblem(vs, field+".port", fmt.Sprintf("service %s has no port %d", host, port))
		return BlackHoleCluster, &p
	}
	if subset := d.GetSubset(); subset != "" && !hasSubset(c.snap.DestinationRuleFor(c.proxy, svc), subset) {
		p := vsProblem(vs, field+".subset", fmt.Sprintf("no DestinationRule defines subset %q for %s", subset, host))
		return BlackHoleCluster, &p
	}
	return ClusterName(Outbound, port, d.GetSubset(), host), nil
}

func hasSubset(dr *networking.DestinationRule, name string) bool {
	for _, s := range dr.GetSubsets() {
		if s.GetName() == name {
			return true
		}
	}
	return false
}

func vsProblem(vs *model.BoundVirtualService, field, msg string) model.Problem {
	return model.Problem{Kind: "VirtualService", Meta: vs.Meta, Field: field, Message: msg}
}
