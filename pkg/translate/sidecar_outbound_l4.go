package translate

import (
	"fmt"
	"net/netip"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"

	"loom.dev/loom/pkg/model"
)

// addL4 adds the filter chains of a TCP, TLS or UNKNOWN service port.
//
// UNKNOWN ports get Istio's protocol sniffing: http_inspector tells
// plaintext HTTP apart, which goes to the port's route configuration; the
// rest is proxied as TCP.
func (o *outboundListeners) addL4(svc *model.Service, port model.Port) {
	vs := o.l4.snap.VirtualServiceFor(o.l4.proxy.Namespace, svc.Hostname)
	vips, cidrs := vipsOf(svc)
	if port.Protocol == model.ProtocolUnknown {
		o.routePorts[port.Number] = true
	}
	for _, vip := range vips {
		name := listenerName(vip, port.Number)
		v := o.vips[name]
		if v == nil {
			v = &vipListener{ip: vip, port: port.Number, set: newChainSet(), owner: svc}
			o.vips[name] = v
		}
		if !o.serviceChains(v.set, vip, svc, port, vs, nil, false) {
			o.problems = append(o.problems, serviceProblem(svc, fmt.Sprintf("address %s port %d is already used by %s %s/%s; this service is not routed there",
				vip, port.Number, v.owner.Source, v.owner.Namespace, v.owner.Name)))
		}
	}
	if len(vips) > 0 {
		return
	}
	base := cidrs
	if len(base) == 0 && svc.Resolution == model.ResolutionEndpoints && !isTLS(port.Protocol) {
		// No virtual IP (a headless Service): match its endpoints' addresses.
		if base = endpointPrefixes(svc); len(base) == 0 {
			return
		}
	}
	if !o.serviceChains(o.wildcardSet(port.Number), wildcardIPv4, svc, port, vs, base, true) {
		o.problems = append(o.problems, serviceProblem(svc, fmt.Sprintf(
			"port %d: without a virtual IP, this service's connections cannot be told apart from other traffic to port %d, which is already routed elsewhere; this service is not routed",
			port.Number, port.Number)))
	}
}

// serviceChains adds one service port's chains to a listener: its
// VirtualService's tcp or tls routes, then its default route unless a
// route already takes every connection. base restricts the default route
// to destination prefixes; a route's own destinationSubnets replace it.
// It returns false when the service's default route found its match taken.
func (o *outboundListeners) serviceChains(set *chainSet, ip string, svc *model.Service, port model.Port, vs *model.BoundVirtualService, base []string, wildcard bool) bool {
	cluster := ClusterName(Outbound, port.Number, "", svc.Hostname)
	if port.Protocol == model.ProtocolUnknown && !(wildcard && len(base) == 0 && set.hasCatchAll()) {
		set.add(chainMatch{prefixes: base, sniffHTTP: true}, "", o.hcm(ip, port.Number), nil)
	}
	var routes []l4Route
	terminal := false
	if vs != nil {
		var problems []model.Problem
		if isTLS(port.Protocol) {
			routes, problems = o.l4.tlsRoutes(vs, port.Number, nil)
			// Istio: once a tls route matches, unmatched SNI is not routed.
			terminal = len(routes) > 0
		} else {
			routes, terminal, problems = o.l4.tcpRoutes(vs, port.Number)
		}
		o.problems = append(o.problems, problems...)
	}
	for _, r := range routes {
		prefixes := r.prefixes
		if len(prefixes) == 0 {
			prefixes = base
		}
		set.add(chainMatch{prefixes: prefixes, serverNames: r.serverNames}, vs.Meta.String(), []*listenerv3.Filter{r.filter}, nil)
	}
	if terminal {
		return true
	}
	m := chainMatch{prefixes: base}
	if wildcard && isTLS(port.Protocol) {
		// On 0.0.0.0 the SNI is all that tells TLS services apart.
		m.serverNames = []string{svc.Hostname}
	}
	return set.add(m, cluster, []*listenerv3.Filter{tcpProxyToCluster(cluster, cluster)}, nil)
}

func isTLS(p model.Protocol) bool { return p == model.ProtocolTLS || p == model.ProtocolHTTPS }

// endpointPrefixes are the addresses of a service's endpoints as host prefixes.
func endpointPrefixes(svc *model.Service) []string {
	var out []string
	for _, ep := range svc.Endpoints {
		if addr, err := netip.ParseAddr(ep.Address); err == nil {
			out = append(out, netip.PrefixFrom(addr, addr.BitLen()).String())
		}
	}
	return out
}

func serviceProblem(svc *model.Service, msg string) model.Problem {
	return model.Problem{Kind: string(svc.Source), Meta: model.Meta{Name: svc.Name, Namespace: svc.Namespace}, Message: msg}
}
