package translate

import (
	"slices"
	"strings"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	networking "istio.io/api/networking/v1alpha3"

	"loom.dev/loom/pkg/model"
)

// forSidecar builds the resources of an Envoy sidecar whose workload's
// traffic is captured by iptables, laid out as Istio does: virtualOutbound
// (15001) and virtualInbound (15006) receive the redirected connections.
// The outbound part comes from c, shared by the proxies it is the same for.
func forSidecar(snap *model.Snapshot, p model.Proxy, c *Cache) (Resources, []model.Problem) {
	sc := snap.SidecarFor(p)
	out := c.sidecarOutbound(snap, p, sc)
	problems := slices.Clone(out.problems)

	var inbound []inboundPort
	var ps []model.Problem
	if sc != nil && len(sc.Spec.GetIngress()) > 0 {
		inbound, ps = sidecarIngressPorts(sc, p)
		problems = append(problems, ps...)
	} else {
		inbound = inboundPortsFromServices(snap, p)
	}
	mtls := inboundMTLS{workload: snap.MTLSFor(p.Namespace, p.Labels), trustDomain: snap.TrustDomain()}
	authz, ps := authzFor(snap, p)
	problems = append(problems, ps...)

	listeners := slices.Clone(out.listeners)
	telemetry := snap.TelemetryFor(p)
	if !telemetry.Client.Empty() {
		// Telemetry rewrites the outbound listeners' filters in place: this proxy's
		// telemetry must not reach the others sharing them.
		for i, l := range listeners {
			listeners[i] = proto.Clone(l)
		}
	}
	res := Resources{
		resourcev3.ListenerType: append(listeners, virtualInbound(inbound, mtls, authz)),
		resourcev3.RouteType:    slices.Clone(out.routes),
		resourcev3.ClusterType:  slices.Concat(out.clusters, inboundClusters(inbound)),
		resourcev3.EndpointType: slices.Clone(out.assignments),
	}
	problems = append(problems, applyMergedTelemetry(snap, p, telemetry, res)...)
	sortEnvoyResources(res)
	return res, compactProblems(problems)
}

// sidecarOutbound is what a sidecar's config has for the services it calls.
type sidecarOutbound struct {
	listeners, routes, clusters, assignments []types.Resource
	problems                                 []model.Problem
}

// buildSidecarOutbound builds the outbound part of a sidecar's config; sc is the Sidecar
// that applies to p.
func buildSidecarOutbound(snap *model.Snapshot, p model.Proxy, sc *model.Sidecar) sidecarOutbound {
	services := servicesFor(snap, p)
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
	out := sidecarOutbound{listeners: outbound.build(services)}
	out.problems = outbound.problems

	var ps []model.Problem
	out.routes, ps = outboundRouteConfigs(snap, p, services, outbound.routePorts, registryOnly)
	out.problems = append(out.problems, ps...)

	out.clusters, out.assignments, ps = outboundClusters(snap, p, services)
	out.problems = append(out.problems, ps...)
	out.clusters = append(out.clusters, blackHoleCluster(), originalDstCluster(PassthroughCluster))
	return out
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
