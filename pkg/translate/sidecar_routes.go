package translate

import (
	"net/netip"
	"strconv"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"loom.dev/loom/pkg/model"
)

// outboundRouteConfigs builds the route configuration "<port>" for each
// port with HTTP (or sniffed) services: one virtual host per service
// answering to the names a client may use for it, then the outbound
// traffic policy's catch-all.
func outboundRouteConfigs(snap *model.Snapshot, p model.Proxy, services []*model.Service, ports map[uint32]bool, registryOnly bool) ([]types.Resource, []model.Problem) {
	var out []types.Resource
	var problems []model.Problem
	for _, port := range sortedPorts(ports) {
		used := map[string]bool{}
		var vhosts []*routev3.VirtualHost
		for _, svc := range services {
			sp, ok := svc.Port(port)
			if !ok || !(sp.Protocol.IsHTTP() || sp.Protocol == model.ProtocolUnknown) {
				continue
			}
			domains := serviceDomains(svc, port, p.Namespace, snap.DomainSuffix(), used)
			if len(domains) == 0 {
				continue
			}
			vh, ps := meshVirtualHost(snap, p, svc, sp, domains)
			problems = append(problems, ps...)
			if vh != nil {
				vhosts = append(vhosts, vh)
			}
		}
		if !used["*"] {
			vhosts = append(vhosts, catchAllVirtualHost(registryOnly))
		}
		out = append(out, &routev3.RouteConfiguration{
			Name:         strconv.FormatUint(uint64(port), 10),
			VirtualHosts: vhosts,
			// Clusters come over CDS separately; Envoy must not reject
			// routes to clusters it has not received yet.
			ValidateClusters: wrapperspb.Bool(false),
		})
	}
	return out, problems
}

// serviceDomains lists the Host headers that reach svc on port: its
// hostname, the short forms Kubernetes DNS resolves from the proxy's
// namespace ("name.ns.svc", "name.ns", and "name" within the namespace),
// and its virtual IPs, each also with ":port". Domains already taken by an
// earlier service are skipped: Envoy rejects duplicates.
func serviceDomains(svc *model.Service, port uint32, proxyNS, suffix string, used map[string]bool) []string {
	host := strings.ToLower(svc.Hostname)
	names := []string{host}
	if short, ok := strings.CutSuffix(host, ".svc."+suffix); ok {
		names = append(names, short+".svc", short)
		if name, ns, ok := strings.Cut(short, "."); ok && ns == proxyNS {
			names = append(names, name)
		}
	}
	for _, a := range svc.Addresses {
		ip, err := netip.ParseAddr(a)
		switch {
		case err != nil || ip.IsUnspecified():
		case ip.Is4():
			names = append(names, ip.String())
		default:
			names = append(names, "["+ip.String()+"]")
		}
	}
	suffixPort := ":" + strconv.FormatUint(uint64(port), 10)
	out := make([]string, 0, 2*len(names))
	for _, n := range names {
		for _, d := range []string{n, n + suffixPort} {
			if !used[d] {
				used[d] = true
				out = append(out, d)
			}
		}
	}
	return out
}

// catchAllVirtualHost handles requests for hosts outside the registry:
// forwarded to their original destination (ALLOW_ANY) or answered 502
// (REGISTRY_ONLY), as Istio does.
func catchAllVirtualHost(registryOnly bool) *routev3.VirtualHost {
	match := &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}}
	if registryOnly {
		return &routev3.VirtualHost{
			Name:    "block_all",
			Domains: []string{"*"},
			Routes: []*routev3.Route{{
				Name:   "block_all",
				Match:  match,
				Action: &routev3.Route_DirectResponse{DirectResponse: &routev3.DirectResponseAction{Status: 502}},
			}},
		}
	}
	return &routev3.VirtualHost{
		Name:    "allow_any",
		Domains: []string{"*"},
		Routes: []*routev3.Route{{
			Name:  "allow_any",
			Match: match,
			Action: &routev3.Route_Route{Route: &routev3.RouteAction{
				ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: PassthroughCluster},
				Timeout:          noTimeout(),
			}},
		}},
	}
}
