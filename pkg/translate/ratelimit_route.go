package translate

import (
	"math"
	"time"

	localratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"loom.dev/loom/pkg/model"
)

// A rule scoped to a route (match.routeName) is enforced the way Envoy's
// local rate limit filter documents for per-route limits: the rule's filter
// in the HTTP connection manager is disabled (filter_enabled unset means 0%
// of requests), and the Envoy routes built from the named VirtualService
// http route carry, under that filter's name, a typed_per_filter_config
// that replaces it on those routes. Each rule has its own filter, so the
// other rules keep applying on those routes too.
//
// Envoy keeps a separate bucket per route config: an http route with
// several matches, or served for several hosts or ports, has one bucket per
// Envoy route it became.

// disabledLocalRateLimit is the filter-level config of a scoped rule: no
// bucket, and enabled for no request.
var disabledLocalRateLimit = anyOf(&localratelimitv3.LocalRateLimit{StatPrefix: rateLimitStatPrefix})

// perRouteLocalRateLimit is a scoped rule's per-route config: its
// filter-level config, plus the default bucket Envoy requires of a per-route
// config (it refuses one without). The rule's descriptor keeps its bucket;
// the default bucket is drawn from only by requests that produce no
// descriptor (always_consume_default_token_bucket false), which the rule
// does not match, and it never runs out: it refills more tokens every
// second than Envoy can serve.
func perRouteLocalRateLimit(cfg *localratelimitv3.LocalRateLimit) *localratelimitv3.LocalRateLimit {
	out := proto.Clone(cfg).(*localratelimitv3.LocalRateLimit)
	out.TokenBucket = &typev3.TokenBucket{
		MaxTokens:     math.MaxUint32,
		TokensPerFill: wrapperspb.UInt32(math.MaxUint32),
		// A divisor of every rule's interval, as Envoy requires of the
		// descriptors' intervals.
		FillInterval: durationpb.New(time.Second),
	}
	out.AlwaysConsumeDefaultTokenBucket = wrapperspb.Bool(false)
	return out
}

// routeFilterConfigs are per-route filter configs by VirtualService http
// route name, then by HTTP filter name.
type routeFilterConfigs map[string]map[string]*anypb.Any

// rateLimitRouteConfigs are the per-route configs of the scoped rules that
// apply to gateway proxy p (nil for other proxies: only gateways route
// requests by VirtualService routes).
func rateLimitRouteConfigs(snap *model.Snapshot, p model.Proxy) routeFilterConfigs {
	if p.Kind != model.KindGateway || !hasScopedRateLimitRule(snap.RateLimitRulesFor(p.Namespace, p.Labels)) {
		return nil
	}
	rules, _ := buildRateLimitRules(snap, p)
	out := routeFilterConfigs{}
	for _, r := range rules {
		if r.routeName == "" {
			continue
		}
		if out[r.routeName] == nil {
			out[r.routeName] = map[string]*anypb.Any{}
		}
		out[r.routeName][r.filterName] = anyOf(r.perRoute)
	}
	return out
}

func hasScopedRateLimitRule(rules []model.AppliedRateLimitRule) bool {
	for _, a := range rules {
		if a.Rule.Match != nil && a.Rule.Match.RouteName != "" {
			return true
		}
	}
	return false
}

// rateLimitedRouteCounts counts, by filter name, the Envoy routes of proxy
// p that carry a scoped rule's per-route config.
func rateLimitedRouteCounts(snap *model.Snapshot, p model.Proxy) map[string]int {
	if p.Kind != model.KindGateway {
		return map[string]int{}
	}
	return gatewayRouteFilterCounts(snap, p)
}

// unmatchedRouteProblem reports a scoped rule that no route of proxy p
// carries. The message names no single proxy, so that every proxy of a
// kind reports the same problem.
func unmatchedRouteProblem(r builtRateLimitRule, p model.Proxy) model.Problem {
	o := r.origin.at(".match.routeName")
	if p.Kind == model.KindSidecar {
		return o.problem("no HTTP route is named %q on sidecars: their inbound requests are not routed by VirtualService http routes (only gateways' are), so the rule limits nothing on them", r.routeName)
	}
	return o.problem("a gateway of namespace %s that the policy selects serves no VirtualService http route named %q, so the rule limits nothing on it", p.Namespace, r.routeName)
}
