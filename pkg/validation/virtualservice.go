package validation

import (
	"strings"

	networking "istio.io/api/networking/v1alpha3"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// VirtualService validates a VirtualService of the namespace.
func VirtualService(namespace string, vs *networking.VirtualService) Result {
	var r Result
	at := spec()
	delegate := len(vs.GetHosts()) == 0
	if delegate {
		if len(vs.GetGateways()) > 0 {
			r.errorf(at.Child("gateways"), "a delegate VirtualService (one without hosts) cannot name gateways")
		}
		if len(vs.GetTls()) > 0 {
			r.errorf(at.Child("tls"), "a delegate VirtualService (one without hosts) cannot have TLS routes")
		}
		if len(vs.GetTcp()) > 0 {
			r.errorf(at.Child("tcp"), "a delegate VirtualService (one without hosts) cannot have TCP routes")
		}
	}
	gatewayNames(&r, at.Child("gateways"), vs.GetGateways())
	onGateway := boundToGateway(vs)
	vsHosts(&r, at.Child("hosts"), vs, onGateway)
	if len(vs.GetHttp()) == 0 && len(vs.GetTcp()) == 0 && len(vs.GetTls()) == 0 {
		r.errorf(at, "http, tcp or tls routes are required")
	}
	for i, h := range vs.GetHttp() {
		httpRoute(&r, at.Child("http").Index(i), h, delegate, onGateway)
	}
	for i, t := range vs.GetTls() {
		tlsRoute(&r, at.Child("tls").Index(i), t, vs)
	}
	for i, t := range vs.GetTcp() {
		tcpRoute(&r, at.Child("tcp").Index(i), t)
	}
	checkExportTo(&r, at.Child("exportTo"), namespace, vs.GetExportTo(), false)
	unreachableRules(&r, at, vs)
	return r
}

// boundToGateway is Istio's rule: a VirtualService that names gateways, none of them
// "mesh", is validated as bound to gateways only; one that names none or names "mesh" too
// as bound to the mesh.
func boundToGateway(vs *networking.VirtualService) bool {
	return len(vs.GetGateways()) > 0 && notOnMesh(vs)
}

func vsHosts(r *Result, at *field.Path, vs *networking.VirtualService, onGateway bool) {
	hosts := vs.GetHosts()
	valid := true
	sni := hasSNIMatch(vs)
	for i, h := range hosts {
		check := wildcardDomain
		if onGateway {
			check = func(name string) error { return gatewayBoundDomain(sni, name) }
		}
		if err := check(h); err != nil && !isIP(h) {
			r.errorf(at.Index(i), "%v", err)
			valid = false
		} else if h == "*" && !onGateway {
			r.errorf(at.Index(i), "the wildcard host * is not allowed for VirtualServices bound to the mesh")
			valid = false
		}
	}
	if !valid {
		return
	}
	for i := range hosts {
		for j := i + 1; j < len(hosts); j++ {
			if hostsOverlap(hosts[i], hosts[j]) {
				r.errorf(at.Index(j), "duplicate hosts in VirtualService: %s and %s", hosts[i], hosts[j])
			}
		}
	}
}

// hostsOverlap is Istio's host.Name.Matches: equal names, or a wildcard covering the other.
func hostsOverlap(a, b string) bool {
	wa, wb := strings.HasPrefix(a, "*"), strings.HasPrefix(b, "*")
	sa, sb := strings.TrimPrefix(a, "*"), strings.TrimPrefix(b, "*")
	switch {
	case wa && wb:
		return strings.HasSuffix(sa, sb) || strings.HasSuffix(sb, sa)
	case wa:
		return strings.HasSuffix(b, sa)
	case wb:
		return strings.HasSuffix(a, sb)
	}
	return a == b
}

// hostCovers reports whether pattern covers name (name is a subset of it).
func hostCovers(pattern, name string) bool {
	if !strings.HasPrefix(pattern, "*") {
		return pattern == name
	}
	suffix := strings.TrimPrefix(pattern, "*")
	return strings.HasSuffix(strings.TrimPrefix(name, "*"), suffix)
}

func tlsRoute(r *Result, at *field.Path, t *networking.TLSRoute, vs *networking.VirtualService) {
	if len(t.GetMatch()) == 0 {
		r.errorf(at.Child("match"), "a TLS route needs at least one match")
	}
	for i, m := range t.GetMatch() {
		mat := at.Child("match").Index(i)
		if len(m.GetSniHosts()) == 0 {
			r.errorf(mat.Child("sniHosts"), "a TLS match needs at least one SNI host")
		}
		for j, sni := range m.GetSniHosts() {
			sniHost(r, mat.Child("sniHosts").Index(j), sni, vs)
		}
		l4Match(r, mat, m.GetDestinationSubnets(), m.GetPort(), m.GetSourceLabels(), m.GetGateways())
	}
	if len(t.GetRoute()) == 0 {
		r.errorf(at.Child("route"), "a TLS route needs at least one destination")
	}
	routeDestinations(r, at.Child("route"), t.GetRoute())
}

func sniHost(r *Result, at *field.Path, sni string, vs *networking.VirtualService) {
	check := wildcardDomain
	if notOnMesh(vs) {
		check = func(name string) error { return gatewayBoundDomain(true, name) }
	}
	hosts := vs.GetHosts()
	if err := check(sni); err != nil {
		if isIP(sni) {
			r.warnf(at, "an IP address (%q) as SNI goes against the SNI specification; most clients do not send it", sni)
			return
		}
		r.errorf(at, "%v", err)
		return
	}
	for _, h := range hosts {
		if hostCovers(h, sni) {
			return
		}
	}
	r.errorf(at, "SNI host %q is not covered by any host of the VirtualService %v", sni, hosts)
}

func tcpRoute(r *Result, at *field.Path, t *networking.TCPRoute) {
	for i, m := range t.GetMatch() {
		l4Match(r, at.Child("match").Index(i), m.GetDestinationSubnets(), m.GetPort(), m.GetSourceLabels(), m.GetGateways())
	}
	if len(t.GetRoute()) == 0 {
		r.errorf(at.Child("route"), "a TCP route needs at least one destination")
	}
	routeDestinations(r, at.Child("route"), t.GetRoute())
}

func l4Match(r *Result, at *field.Path, subnets []string, p uint32, labels map[string]string, gateways []string) {
	for i, s := range subnets {
		r.check(at.Child("destinationSubnets").Index(i), ipOrCIDR(s))
	}
	if p != 0 {
		r.check(at.Child("port"), port(int64(p)))
	}
	checkLabels(r, at.Child("sourceLabels"), labels)
	gatewayNames(r, at.Child("gateways"), gateways)
}

// routeDestinations checks TCP and TLS destinations and their weights.
func routeDestinations(r *Result, at *field.Path, dests []*networking.RouteDestination) {
	weights := make([]int32, len(dests))
	for i, d := range dests {
		weights[i] = d.GetWeight()
		if d.GetDestination() == nil {
			r.errorf(at.Index(i).Child("destination"), "required")
		}
		destination(r, at.Index(i).Child("destination"), d.GetDestination())
	}
	checkWeights(r, at, weights)
}

// checkWeights applies the shared weight rule: a proxy cannot split by negative or all-zero
// weights; a sum other than 100 only shares traffic in proportion (as in Istio), a warning.
func checkWeights(r *Result, at *field.Path, weights []int32) {
	switch {
	case len(weights) == 1 && weights[0] < 0:
		r.errorf(at.Index(0).Child("weight"), "%d must not be negative", weights[0])
	case len(weights) == 1 && weights[0] != 0 && weights[0] != 100:
		r.warnf(at.Index(0).Child("weight"), "%d has no effect: the only destination gets all traffic", weights[0])
	case len(weights) > 1:
		if rel, err := Weights(weights); err != nil {
			r.errorf(field.NewPath(at.String()+rel), "%v", err)
		} else if msg := WeightsShare(weights); msg != "" {
			r.warnf(at, "%s", msg)
		}
	}
}

func destination(r *Result, at *field.Path, d *networking.Destination) {
	if d == nil {
		return
	}
	if h := d.GetHost(); h == "*" {
		r.errorf(at.Child("host"), "the wildcard * is not a destination host")
	} else {
		r.check(at.Child("host"), wildcardDomain(h))
	}
	if d.GetSubset() != "" {
		r.check(at.Child("subset"), SubsetName(d.GetSubset()))
	}
	if d.GetPort() != nil {
		r.check(at.Child("port", "number"), port(int64(d.GetPort().GetNumber())))
	}
}
