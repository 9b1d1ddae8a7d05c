package translate

import (
	"slices"
	"strconv"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"loom.dev/loom/pkg/model"
)

// routeConfig builds a gateway route configuration from the servers
// sharing it: all plaintext HTTP servers of a port ("http.<port>"), or one
// HTTPS server. As in Istio, each host a bound VirtualService shares with a
// server gets a virtual host; VirtualServices for the same host are merged,
// their routes appended in precedence order; an httpsRedirect server
// redirects its hosts to https.
func (g *gatewayBuilder) routeConfig(name string, servers []*gwServer) *routev3.RouteConfiguration {
	vhosts := map[string]*routev3.VirtualHost{}
	type key struct{ gateway, vs string }
	routesOf := map[key][]*routev3.Route{}
	limits := rateLimitRouteConfigs(g.snap, g.proxy)
	host := func(h string, port uint32) *routev3.VirtualHost {
		vh := vhosts[h]
		if vh == nil {
			vh = &routev3.VirtualHost{Name: h + ":" + strconv.FormatUint(uint64(port), 10), Domains: []string{h}}
			vhosts[h] = vh
		}
		return vh
	}
	// Routes match on the port servers declare, as in Istio.
	for _, s := range servers {
		redirect := s.srv.GetTls().GetHttpsRedirect()
		vss, hosts := g.boundVirtualServices(s)
		for i, vs := range vss {
			k := key{s.gateway, vs.Meta.String()}
			routes, seen := routesOf[k]
			if !seen {
				var problems []model.Problem
				routes, problems = httpRoutesWith(g.snap, g.proxy, vs, s.port, s.gateway, limits)
				g.problems = append(g.problems, problems...)
				routesOf[k] = routes
			}
			for _, h := range hosts[i] {
				vh := host(h, s.port)
				vh.Routes = append(vh.Routes, routes...)
				if redirect {
					vh.RequireTls = routev3.VirtualHost_ALL
				}
			}
		}
		if redirect {
			for _, h := range s.hosts {
				host(h.host, s.port).RequireTls = routev3.VirtualHost_ALL
			}
		}
	}
	out := make([]*routev3.VirtualHost, 0, len(vhosts))
	for _, vh := range vhosts {
		out = append(out, vh)
	}
	slices.SortFunc(out, func(a, b *routev3.VirtualHost) int { return strings.Compare(a.Name, b.Name) })
	if len(out) == 0 {
		// No routes: Envoy answers 404 for every request.
		out = append(out, &routev3.VirtualHost{Name: "blackhole:" + strconv.FormatUint(uint64(servers[0].port), 10), Domains: []string{"*"}})
	}
	return &routev3.RouteConfiguration{
		Name:         name,
		VirtualHosts: out,
		// A load balancer in front may have changed the port clients put in Host.
		IgnorePortInHostMatching: true,
		ValidateClusters:         wrapperspb.Bool(false),
	}
}

// gatewayRouteFilterCounts builds the route configurations of gateway p
// as forGateway does and counts, by filter name, the Envoy routes that
// carry a per-route filter config.
func gatewayRouteFilterCounts(snap *model.Snapshot, p model.Proxy) map[string]int {
	g := &gatewayBuilder{snap: snap, proxy: p}
	ports, _ := gatewayPorts(snap, p, snap.GatewaysFor(p))
	counts := map[string]int{}
	for _, gp := range ports {
		for _, s := range gp.servers {
			if s.mode != modeHTTP && s.mode != modeTerminateHTTP {
				continue
			}
			for _, vh := range g.routeConfig(s.routeName, []*gwServer{s}).GetVirtualHosts() {
				for _, r := range vh.GetRoutes() {
					for filter := range r.GetTypedPerFilterConfig() {
						counts[filter]++
					}
				}
			}
		}
	}
	return counts
}
