package translate

import (
	"fmt"
	"slices"
	"strings"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"

	"loom.dev/loom/pkg/model"
)

// l4Route is one tcp or tls route after its static conditions (source
// labels and namespace, port, gateway) held for this proxy: what is left
// for Envoy to match at run time, and the tcp_proxy it leads to.
type l4Route struct {
	prefixes    []string // destination CIDRs; none matches any destination
	serverNames []string // SNI; none matches any
	filter      *listenerv3.Filter
}

// staticMatch evaluates what Envoy cannot: the conditions on the client
// and on where the route is bound. Gateways in a match override those of
// the VirtualService, which VirtualServices(ns, gateway) already checked.
func (c *l4Context) staticMatch(vsNamespace string, sourceLabels map[string]string, sourceNamespace string, port uint32, gateways []string, listenPort uint32) bool {
	if port != 0 && port != listenPort {
		return false
	}
	// The source conditions describe sidecar clients; Istio ignores them on gateways.
	if c.gateway == model.MeshGateway {
		if sourceNamespace != "" && sourceNamespace != c.proxy.Namespace {
			return false
		}
		for k, v := range sourceLabels {
			if got, ok := c.proxy.Labels[k]; !ok || got != v {
				return false
			}
		}
	}
	if len(gateways) == 0 {
		return true
	}
	for _, g := range gateways {
		if model.ResolveGatewayName(g, vsNamespace) == c.gateway {
			return true
		}
	}
	return false
}

// tcpRoutes returns the tcp routes of vs that apply on listenPort, in
// order, following Istio: a route matching any destination ends the list
// (terminal is then true); the destination subnets of the applying matches
// of one route are merged into one filter chain.
func (c *l4Context) tcpRoutes(vs *model.BoundVirtualService, listenPort uint32) (routes []l4Route, terminal bool, problems []model.Problem) {
	for i, tcp := range vs.Spec.GetTcp() {
		field := fmt.Sprintf("spec.tcp[%d]", i)
		var prefixes []string
		catchAll := len(tcp.GetMatch()) == 0
		for j, m := range tcp.GetMatch() {
			if !c.staticMatch(vs.Namespace, m.GetSourceLabels(), m.GetSourceNamespace(), m.GetPort(), m.GetGateways(), listenPort) {
				continue
			}
			if len(m.GetDestinationSubnets()) == 0 {
				catchAll = true
				break
			}
			valid, ps := subnets(vs, fmt.Sprintf("%s.match[%d].destinationSubnets", field, j), m.GetDestinationSubnets())
			problems = append(problems, ps...)
			prefixes = append(prefixes, valid...)
		}
		if !catchAll && len(prefixes) == 0 {
			continue
		}
		f, ps, ok := c.tcpProxy(vs, field+".route", tcp.GetRoute(), listenPort)
		problems = append(problems, ps...)
		if !ok {
			continue
		}
		if catchAll {
			return append(routes, l4Route{filter: f}), true, problems
		}
		routes = append(routes, l4Route{prefixes: prefixes, filter: f})
	}
	return routes, false, problems
}

// tlsRoutes returns one route per applying match of the tls routes of vs
// on listenPort, matched at run time by SNI and destination subnets.
// allowSNI, when set, narrows the SNI hosts (a gateway server's hosts).
func (c *l4Context) tlsRoutes(vs *model.BoundVirtualService, listenPort uint32, allowSNI func([]string) []string) (routes []l4Route, problems []model.Problem) {
	for i, tls := range vs.Spec.GetTls() {
		field := fmt.Sprintf("spec.tls[%d]", i)
		var f *listenerv3.Filter
		for j, m := range tls.GetMatch() {
			if !c.staticMatch(vs.Namespace, m.GetSourceLabels(), m.GetSourceNamespace(), m.GetPort(), m.GetGateways(), listenPort) {
				continue
			}
			sni := lowerAll(m.GetSniHosts())
			if allowSNI != nil {
				if sni = allowSNI(sni); len(sni) == 0 {
					continue
				}
			}
			prefixes, ps := subnets(vs, fmt.Sprintf("%s.match[%d].destinationSubnets", field, j), m.GetDestinationSubnets())
			problems = append(problems, ps...)
			if len(prefixes) == 0 && len(m.GetDestinationSubnets()) > 0 {
				continue
			}
			if f == nil {
				var ok bool
				if f, ps, ok = c.tcpProxy(vs, field+".route", tls.GetRoute(), listenPort); !ok {
					problems = append(problems, ps...)
					break
				}
				problems = append(problems, ps...)
			}
			if slices.Contains(sni, "*") {
				sni = nil
			}
			routes = append(routes, l4Route{prefixes: prefixes, serverNames: sni, filter: f})
		}
	}
	return routes, problems
}

// subnets normalizes destination subnets, reporting those that are not
// CIDRs or addresses.
func subnets(vs *model.BoundVirtualService, field string, in []string) (out []string, problems []model.Problem) {
	for k, s := range in {
		r, ok := cidrRange(s)
		if !ok {
			problems = append(problems, vsProblem(vs, fmt.Sprintf("%s[%d]", field, k), fmt.Sprintf("%q is not an IP address or CIDR", s)))
			continue
		}
		out = append(out, fmt.Sprintf("%s/%d", r.GetAddressPrefix(), r.GetPrefixLen().GetValue()))
	}
	return out, problems
}

func lowerAll(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = strings.ToLower(s)
	}
	return out
}
