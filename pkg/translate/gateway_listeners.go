package translate

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"

	"loom.dev/loom/pkg/model"
)

// gatewayBuilder holds what a gateway's listeners and routes share.
type gatewayBuilder struct {
	snap     *model.Snapshot
	proxy    model.Proxy
	l4       *l4Context // gateway is set per server
	problems []model.Problem
	// authz guards every chain: the AuthorizationPolicies selecting the
	// gateway's pods.
	authz inboundAuthz
}

// listener builds "0.0.0.0_<port>", bound to the port, with one filter
// chain for plaintext HTTP, or the tcp route of a TCP server, or chains
// told apart by SNI for TLS servers. Nil when no chain has a destination.
func (g *gatewayBuilder) listener(gp *gatewayPort) *listenerv3.Listener {
	set := newChainSet()
	name := listenerName(wildcardIPv4, gp.number)
	for _, s := range gp.servers {
		switch s.mode {
		case modeHTTP:
			set.add(chainMatch{}, name, g.hcm(s, "outbound_"+name), nil)
		case modeTCP:
			if f := g.tcpFilter(s); f != nil {
				set.add(chainMatch{}, name, g.authz.withNetwork(f), nil)
			}
		case modeTerminateHTTP:
			g.addChain(set, s, s.sniHosts(), g.hcm(s, s.routeName), transportSocketTLS(s.tls.downstreamContext(true)))
		case modeTerminateTCP:
			if f := g.tcpFilter(s); f != nil {
				g.addChain(set, s, s.sniHosts(), g.authz.withNetwork(f), transportSocketTLS(s.tls.downstreamContext(false)))
			}
		case modePassthrough:
			g.passthroughChains(set, s)
		}
	}
	if len(set.chains) == 0 {
		return nil
	}
	return &listenerv3.Listener{
		Name:             name,
		Address:          socketAddress(wildcardIPv4, gp.number),
		TrafficDirection: corev3.TrafficDirection_OUTBOUND,
		FilterChains:     set.chains,
		ListenerFilters:  set.inspectors(),
	}
}

func (g *gatewayBuilder) addChain(set *chainSet, s *gwServer, sni []string, filters []*listenerv3.Filter, ts *corev3.TransportSocket) {
	if !set.add(chainMatch{serverNames: sni}, s.gateway+"/"+s.field, filters, ts) {
		g.problems = append(g.problems, gwProblem(s.gw, s.field+".hosts", "every host of this server is already matched by an earlier filter chain on port %d; this server is not reachable", s.listen))
	}
}

func (g *gatewayBuilder) hcm(s *gwServer, statPrefix string) []*listenerv3.Filter {
	return []*listenerv3.Filter{httpConnectionManager(hcmOptions{
		statPrefix: statPrefix,
		rds:        s.routeName,
		kind:       model.KindGateway,
		gateway:    true,
		authz:      g.authz.http,
	})}
}

// boundVirtualServices are the VirtualServices bound to the server's
// Gateway, with the hosts they may serve on it (server hosts are
// namespace-restricted), in precedence order.
func (g *gatewayBuilder) boundVirtualServices(s *gwServer) (vss []*model.BoundVirtualService, hosts [][]string) {
	for _, vs := range g.snap.VirtualServices(g.proxy.Namespace, s.gateway) {
		if h := intersectHosts(vs.Hosts, s.hostsFor(vs.Namespace)); len(h) > 0 {
			vss = append(vss, vs)
			hosts = append(hosts, h)
		}
	}
	return vss, hosts
}

func (g *gatewayBuilder) forServer(s *gwServer) *l4Context {
	c := *g.l4
	c.gateway = s.gateway
	return &c
}

// tcpFilter is Istio's choice for a TCP server: the first tcp route that
// applies, of the first bound VirtualService that has one.
func (g *gatewayBuilder) tcpFilter(s *gwServer) *listenerv3.Filter {
	c := g.forServer(s)
	vss, _ := g.boundVirtualServices(s)
	for _, vs := range vss {
		routes, _, problems := c.tcpRoutes(vs, s.port)
		g.problems = append(g.problems, problems...)
		if len(routes) > 0 {
			return routes[0].filter
		}
	}
	return nil
}

// passthroughChains adds a chain per applying tls route match, on the SNI
// hosts it shares with the server.
func (g *gatewayBuilder) passthroughChains(set *chainSet, s *gwServer) {
	c := g.forServer(s)
	vss, _ := g.boundVirtualServices(s)
	for _, vs := range vss {
		serverHosts := s.hostsFor(vs.Namespace)
		routes, problems := c.tlsRoutes(vs, s.port, func(sni []string) []string { return intersectHosts(sni, serverHosts) })
		g.problems = append(g.problems, problems...)
		for _, r := range routes {
			set.add(chainMatch{serverNames: r.serverNames, prefixes: r.prefixes}, vs.Namespace+"/"+vs.Name, g.authz.withNetwork(r.filter), nil)
		}
	}
}
