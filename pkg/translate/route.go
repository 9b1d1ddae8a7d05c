package translate

import (
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	networking "istio.io/api/networking/v1alpha3"

	"loom.dev/loom/pkg/model"
)

const kindVirtualService = "VirtualService"

// routeBuilder translates the http routes of one VirtualService for one
// proxy, listener port and gateway, and collects the problems it finds.
type routeBuilder struct {
	snap *model.Snapshot
	p    model.Proxy
	// port is the destination port traffic arrives for; 0 means any.
	port uint32
	// gateway is "mesh" or "namespace/name", for match.gateways.
	gateway string
	// ns is the namespace of the VirtualService that wrote the route being
	// translated: short hosts and gateway names resolve in it.
	ns       string
	defaults routeDefaults
	policies map[*model.Service]destinationPolicy
	// filterConfigs are added to the routes of the http routes they name
	// (RateLimitPolicy rules scoped to a route).
	filterConfigs routeFilterConfigs
	problems      []model.Problem
}

func newRouteBuilder(snap *model.Snapshot, p model.Proxy, port uint32, gateway string) *routeBuilder {
	defaults, problems := checkRouteDefaults(snap.RouteDefaults())
	return &routeBuilder{snap: snap, p: p, port: port, gateway: gateway, defaults: defaults, problems: problems}
}

func (rb *routeBuilder) report(o origin, format string, args ...any) {
	rb.problems = append(rb.problems, o.problem(format, args...))
}

func (rb *routeBuilder) grpc() bool { return rb.p.Kind == model.KindGRPC }

// policyFor caches the DestinationRule lookup for a destination service.
func (rb *routeBuilder) policyFor(svc *model.Service) destinationPolicy {
	dp, ok := rb.policies[svc]
	if !ok {
		dp = destinationPolicyFor(rb.snap, rb.p, svc)
		if rb.policies == nil {
			rb.policies = map[*model.Service]destinationPolicy{}
		}
		rb.policies[svc] = dp
	}
	return dp
}

// httpRoutes translates the http section of one VirtualService for a destination port (0 = any port) as seen through
// gateway ("mesh" or "namespace/name"; used for the `gateways` field of matches). Used by gateways too.
//
// Each HTTPRoute becomes one Envoy route per match that applies to the
// proxy, in order; translation stops after a route that matches every
// request, as later ones could never be reached. An HTTPRoute with an
// invalid part is reported and left out; the others keep working.
func httpRoutes(snap *model.Snapshot, p model.Proxy, vs *model.BoundVirtualService, port uint32, gateway string) ([]*routev3.Route, []model.Problem) {
	return httpRoutesWith(snap, p, vs, port, gateway, nil)
}

// httpRoutesWith is httpRoutes that also adds, to the Envoy routes of each
// http route, the per-route filter configs filterConfigs has for its name.
func httpRoutesWith(snap *model.Snapshot, p model.Proxy, vs *model.BoundVirtualService, port uint32, gateway string, filterConfigs routeFilterConfigs) ([]*routev3.Route, []model.Problem) {
	resolved, problems := snap.HTTPRoutes(vs)
	rb := newRouteBuilder(snap, p, port, gateway)
	rb.filterConfigs = filterConfigs
	var out []*routev3.Route
	for _, r := range resolved {
		rb.ns = r.Owner.Namespace
		at := origin{kind: kindVirtualService, meta: r.Owner.Meta, field: r.Field}
		if r.DelegatedBy != "" {
			at.note = "delegated from " + r.DelegatedBy
		}
		routes, catchAll := rb.translate(r.Route, at)
		out = append(out, routes...)
		if catchAll {
			break
		}
	}
	return out, dedupeProblems(append(problems, rb.problems...))
}

// translate returns the Envoy routes of one HTTPRoute and whether the last
// of them matches every request.
func (rb *routeBuilder) translate(http *networking.HTTPRoute, at origin) ([]*routev3.Route, bool) {
	matches := http.GetMatch()
	if len(matches) == 0 {
		matches = []*networking.HTTPMatchRequest{nil}
	}
	// Matches are checked before any is dropped as not applying to this
	// proxy, so every proxy reports the same problems.
	envoyMatches := make([]*routev3.RouteMatch, len(matches))
	for i, m := range matches {
		rm, ok := rb.routeMatch(m, at.at(".match[%d]", i))
		if !ok {
			return nil, false
		}
		envoyMatches[i] = rm
	}
	base, ok := rb.baseRoute(http, at)
	if !ok {
		return nil, false
	}
	var out []*routev3.Route
	for i, m := range matches {
		if !rb.applies(m) {
			continue
		}
		r := proto.Clone(base).(*routev3.Route)
		r.Match = envoyMatches[i]
		r.Name = http.GetName()
		if m.GetName() != "" {
			r.Name += "." + m.GetName()
		}
		r.StatPrefix = m.GetStatPrefix()
		rb.addFilterConfigs(r, http.GetName())
		if err := checkEnvoy(r); err != nil {
			rb.report(at, "%v; the route is left out", err)
			return nil, false
		}
		out = append(out, r)
		if isCatchAll(r.Match) {
			return out, true
		}
	}
	return out, false
}

// baseRoute builds everything of a route but its match: the action (a
// forward, a redirect or a direct response), header changes and the
// per-route configuration of the fault and CORS filters.
func (rb *routeBuilder) baseRoute(http *networking.HTTPRoute, at origin) (*routev3.Route, bool) {
	r := &routev3.Route{}
	ops, ok := rb.headerOperations(http.GetHeaders(), at.at(".headers"))
	if !ok {
		return nil, false
	}
	ops.applyTo(r)
	actions := 0
	for _, set := range []bool{len(http.GetRoute()) > 0, http.GetRedirect() != nil, http.GetDirectResponse() != nil} {
		if set {
			actions++
		}
	}
	switch {
	case actions != 1:
		rb.report(at, "exactly one of route, redirect, directResponse and delegate must be set")
		return nil, false
	case http.GetRedirect() != nil:
		if !rb.redirect(r, http.GetRedirect(), at.at(".redirect")) {
			return nil, false
		}
	case http.GetDirectResponse() != nil:
		if !rb.directResponse(r, http.GetDirectResponse(), at.at(".directResponse")) {
			return nil, false
		}
	default:
		if !rb.forward(r, http, ops.authority, at) {
			return nil, false
		}
	}
	if f := http.GetFault(); f != nil {
		cfg, ok := rb.fault(f, at.at(".fault"))
		if !ok {
			return nil, false
		}
		if cfg != nil {
			r.TypedPerFilterConfig = map[string]*anypb.Any{faultFilterName: cfg}
		}
	}
	if c := http.GetCorsPolicy(); c != nil && !rb.grpc() {
		cfg, ok := rb.cors(c, at.at(".corsPolicy"))
		if !ok {
			return nil, false
		}
		if r.TypedPerFilterConfig == nil {
			r.TypedPerFilterConfig = map[string]*anypb.Any{}
		}
		r.TypedPerFilterConfig[corsFilterName] = cfg
	}
	return r, true
}

// addFilterConfigs adds the per-route filter configs of the http route
// named name; an unnamed route has none.
func (rb *routeBuilder) addFilterConfigs(r *routev3.Route, name string) {
	configs := rb.filterConfigs[name]
	if name == "" || len(configs) == 0 {
		return
	}
	if r.TypedPerFilterConfig == nil {
		r.TypedPerFilterConfig = make(map[string]*anypb.Any, len(configs))
	}
	for filter, cfg := range configs {
		r.TypedPerFilterConfig[filter] = cfg
	}
}

// applies reports whether a match is meant for this proxy, port and
// gateway, as Istio decides: a match naming gateways applies through those
// gateways only (source labels are then not checked); otherwise the
// proxy's labels must include sourceLabels and its namespace must be
// sourceNamespace, when set.
func (rb *routeBuilder) applies(m *networking.HTTPMatchRequest) bool {
	if m == nil {
		return true
	}
	if m.GetPort() != 0 && rb.port != 0 && m.GetPort() != rb.port {
		return false
	}
	if len(m.GetGateways()) > 0 {
		for _, g := range m.GetGateways() {
			if model.ResolveGatewayName(g, rb.ns) == rb.gateway {
				return true
			}
		}
		return false
	}
	if !labelsInclude(rb.p.Labels, m.GetSourceLabels()) {
		return false
	}
	return m.GetSourceNamespace() == "" || m.GetSourceNamespace() == rb.p.Namespace
}

// isCatchAll reports whether a route matches every request.
func isCatchAll(m *routev3.RouteMatch) bool {
	if len(m.GetHeaders()) > 0 || len(m.GetQueryParameters()) > 0 {
		return false
	}
	switch {
	case m.GetPrefix() == "/":
		return true
	case m.GetSafeRegex() != nil:
		return m.GetSafeRegex().GetRegex() == ".*"
	}
	return false
}
