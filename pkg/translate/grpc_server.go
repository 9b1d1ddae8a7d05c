package translate

import (
	"net"
	"slices"
	"strconv"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"

	"loom.dev/loom/pkg/model"
)

// wildcardAddresses are what a gRPC server listening on ":port" reports as
// its address: gRPC-Go asks for the listener of that exact address and
// accepts it only if the listener's own address is the same.
var wildcardAddresses = []string{"0.0.0.0", "::"}

// grpcServerListeners returns, for each port the proxy serves (a service
// port with an endpoint at one of the proxy's IPs), the Listener an xDS
// gRPC server listening there asks for, under the proxy's IP and under the
// wildcard addresses. Its single filter chain accepts every RPC
// (non_forwarding_action) with only the router filter: gRPC-Go goes
// SERVING once it has this, and NACKs client-only filters such as fault.
//
// The filter chain requires mutual TLS or not as the PeerAuthentication
// mode of the port says (see grpcServerRequiresMTLS).
func grpcServerListeners(snap *model.Snapshot, p model.Proxy) ([]types.Resource, []model.Problem) {
	var out []types.Resource
	mtls := snap.MTLSFor(p.Namespace, p.Labels)
	authz, problems := authzFor(snap, p)
	seen := map[string]bool{}
	add := func(ip string, port uint32) {
		addr := net.JoinHostPort(ip, strconv.FormatUint(uint64(port), 10))
		if seen[addr] {
			return
		}
		seen[addr] = true
		strict, ps := grpcServerRequiresMTLS(p, port, mtls)
		problems = append(problems, ps...)
		out = append(out, grpcServerListener(addr, ip, port, strict, authz.http))
	}
	for _, svc := range snap.Services() {
		for _, ep := range svc.Endpoints {
			if !slices.Contains(p.IPs, ep.Address) {
				continue
			}
			for _, port := range svc.Ports {
				n := ep.PortFor(port)
				if n == 0 || n > 65535 {
					continue
				}
				add(ep.Address, n)
				for _, w := range wildcardAddresses {
					add(w, n)
				}
			}
		}
	}
	return out, problems
}

// authz are the RBAC filters gRPC-Go evaluates for AuthorizationPolicy
// (gRFC A41), before the router.
func grpcServerListener(addr, ip string, port uint32, requireMTLS bool, authz []*hcmv3.HttpFilter) *listenerv3.Listener {
	name := GRPCServerListenerName(addr)
	hcm := &hcmv3.HttpConnectionManager{
		StatPrefix: "inbound_" + addr,
		RouteSpecifier: &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: &routev3.RouteConfiguration{
			Name: "inbound|" + addr,
			VirtualHosts: []*routev3.VirtualHost{{
				Name:    "inbound|" + addr,
				Domains: []string{"*"},
				Routes: []*routev3.Route{{
					Match:  &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
					Action: &routev3.Route_NonForwardingAction{NonForwardingAction: &routev3.NonForwardingAction{}},
				}},
			}},
		}},
		HttpFilters: append(append([]*hcmv3.HttpFilter(nil), authz...), routerFilter()),
	}
	chain := &listenerv3.FilterChain{
		Name:    "inbound|" + addr,
		Filters: []*listenerv3.Filter{networkFilter(hcmFilterName, hcm)},
	}
	if requireMTLS {
		chain.TransportSocket = grpcServerTransportSocket()
	}
	return &listenerv3.Listener{
		Name:         name,
		Address:      socketAddress(ip, port),
		FilterChains: []*listenerv3.FilterChain{chain},
	}
}
