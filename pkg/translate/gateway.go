package translate

import (
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"loom.dev/loom/pkg/model"
)

// forGateway builds the resources of an Envoy gateway (Istio ingress or
// egress gateway) from the Gateways selecting it: a listener per server
// port, route configurations for its HTTP servers, and SDS secrets for the
// credentials its TLS servers name.
func forGateway(snap *model.Snapshot, p model.Proxy) (Resources, []model.Problem) {
	services := servicesFor(snap, p)
	g := &gatewayBuilder{snap: snap, proxy: p, l4: newL4Context(snap, p, "", services)}
	ports, problems := gatewayPorts(snap, p, snap.GatewaysFor(p))
	authz, ps := authzFor(snap, p)
	problems = append(problems, ps...)
	g.authz = authz

	var listeners, routes, secrets []types.Resource
	secretSeen := map[string]bool{}
	for _, gp := range ports {
		if l := g.listener(gp); l != nil {
			listeners = append(listeners, l)
		}
		var plain []*gwServer
		for _, s := range gp.servers {
			switch s.mode {
			case modeHTTP:
				plain = append(plain, s)
			case modeTerminateHTTP:
				routes = append(routes, g.routeConfig(s.routeName, []*gwServer{s}))
			}
			if s.tls == nil {
				continue
			}
			for _, sec := range s.tls.secrets {
				if !secretSeen[sec.Name] {
					secretSeen[sec.Name] = true
					secrets = append(secrets, sec)
				}
			}
		}
		if len(plain) > 0 {
			routes = append(routes, g.routeConfig(plain[0].routeName, plain))
		}
	}
	problems = append(problems, g.problems...)

	// Every visible service gets a cluster, as Istio does by default, so
	// that a VirtualService change never waits on CDS.
	clusters, assignments, ps := outboundClusters(snap, p, services)
	problems = append(problems, ps...)
	clusters = append(clusters, blackHoleCluster())

	res := Resources{
		resourcev3.ListenerType: listeners,
		resourcev3.RouteType:    routes,
		resourcev3.ClusterType:  clusters,
		resourcev3.EndpointType: assignments,
		resourcev3.SecretType:   secrets,
	}
	problems = append(problems, applyTelemetry(snap, p, res)...)
	sortEnvoyResources(res)
	return res, compactProblems(problems)
}

// gatewayServices are the services visible to the gateway's namespace, one
// per hostname. Sidecar resources do not scope gateways in Istio, so
// ServicesFor (which applies them) is not used.
func gatewayServices(snap *model.Snapshot, p model.Proxy) []*model.Service {
	var out []*model.Service
	all := snap.Services()
	for i, svc := range all {
		if i > 0 && all[i-1].Hostname == svc.Hostname {
			continue
		}
		if chosen := snap.ServiceFor(p.Namespace, svc.Hostname); chosen != nil {
			out = append(out, chosen)
		}
	}
	return out
}
