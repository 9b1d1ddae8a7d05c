package translate

import (
	"slices"
	"strings"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	networking "istio.io/api/networking/v1alpha3"

	"loom.dev/loom/pkg/model"
)

// forSidecar builds the resources of an Envoy sidecar whose workload's
// traffic is captured by iptables, laid out as Istio does: virtualOutbound
// (15001) and virtualInbound (15006) receive the redirected connections.
func forSidecar(snap *model.Snapshot, p model.Proxy) (Resources, []model.Problem) {
	services := servicesFor(snap, p)
	sc := snap.SidecarFor(p)
	// REGISTRY_ONLY is the zero value of the mode: only an explicit policy
	// counts, else the mesh config's default applies.
	registryOnly := snap.RegistryOnly()
	if policy := outboundPolicy(sc); policy != nil {
		registryOnly = policy.GetMode() == networking.OutboundTrafficPolicy_REGISTRY_ONLY
	}
	policy := PassthroughCluster
	if registryOnly {
		policy = BlackHoleCluster
	}

	outbound := newOutboundListeners(newL4Context(snap, p, model.MeshGateway, services), policy)
	listeners := outbound.build(services)
	problems := outbound.problems

	routes, ps := outboundRouteConfigs(snap, p, services, outbound.routePorts, registryOnly)
	problems = append(problems, ps...)

	var inbound []inboundPort
	if sc != nil && len(sc.Spec.GetIngress()) > 0 {
		inbound, ps = sidecarIngressPorts(sc, p)
		problems = append(problems, ps...)
	} else {
		inbound = inboundPortsFromServices(snap, p)
	}
	mtls := inboundMTLS{workload: snap.MTLSFor(p.Namespace, p.Labels), trustDomain: snap.TrustDomain()}
	authz, ps := authzFor(snap, p)
	problems = append(problems, ps...)
	listeners = append(listeners, virtualInbound(inbound, mtls, authz))

	clusters, assignments, ps := outboundClusters(snap, p, services)
	problems = append(problems, ps...)
	clusters = append(clusters, blackHoleCluster(), originalDstCluster(PassthroughCluster))
	clusters = append(clusters, inboundClusters(inbound)...)

	res := Resources{
		resourcev3.ListenerType: listeners,
		resourcev3.RouteType:    routes,
		resourcev3.ClusterType:  clusters,
		resourcev3.EndpointType: assignments,
	}
	problems = append(problems, applyTelemetry(snap, p, res)...)
	sortEnvoyResources(res)
	return res, compactProblems(problems)
}

func sortEnvoyResources(res Resources) {
	for _, list := range res {
		slices.SortStableFunc(list, func(a, b types.Resource) int {
			return strings.Compare(cachev3.GetResourceName(a), cachev3.GetResourceName(b))
		})
	}
}

// compactProblems sorts problems and drops repeats: the same route can be
// evaluated for several listeners.
func compactProblems(problems []model.Problem) []model.Problem {
	key := func(p model.Problem) string {
		return p.Kind + "\x00" + p.Meta.String() + "\x00" + p.Field + "\x00" + p.Message
	}
	slices.SortStableFunc(problems, func(a, b model.Problem) int { return strings.Compare(key(a), key(b)) })
	return slices.CompactFunc(problems, func(a, b model.Problem) bool { return key(a) == key(b) })
}

func outboundPolicy(sc *model.Sidecar) *networking.OutboundTrafficPolicy {
	if sc == nil {
		return nil
	}
	return sc.Spec.GetOutboundTrafficPolicy()
}
