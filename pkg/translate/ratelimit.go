package translate

import (
	"cmp"
	"fmt"
	"regexp"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	ratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	localratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	sslinputsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/matching/common_inputs/ssl/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"loom.dev/loom/pkg/model"
)

// localRateLimitFilterName is the base name of the local rate limit
// filters; each rule's filter adds its policy and index, which Envoy's
// stats and logs show.
const localRateLimitFilterName = "envoy.filters.http.local_ratelimit"

// Descriptor keys of a rule's single descriptor. The rule key makes every
// rule's descriptor distinct; the match entry exists only when the request
// matches; the client entry is a wildcard (empty value in the config): a
// bucket per distinct value.
const (
	rateLimitRuleKey   = "loom_rule"
	rateLimitMatchKey  = "loom_match"
	rateLimitClientKey = "loom_client"
)

// rateLimitStatPrefix prefixes the filters' stats.
const rateLimitStatPrefix = "loom_rate_limit"

// maxRateLimitClients bounds the per-client buckets a rule keeps (Envoy
// evicts the least recently used): memory stays bounded whatever clients send.
const maxRateLimitClients = 10000

// rateLimitFiltersFor builds one local rate limit filter per rule that
// applies to proxy p, in policy age order. Each filter's only bucket is its
// rule's descriptor: a request the rule does not match produces no
// descriptor and passes the filter (the filter has no default bucket).
//
// A rule whose match names a route is enforced by per-route configs on the
// Envoy routes built from that VirtualService http route (see
// rateLimitRouteConfigs); its filter here is disabled, so it limits
// nothing on other routes. Only gateways route requests by VirtualService
// routes: on a sidecar, or on a gateway that serves no route of that name,
// the rule is reported and gets no filter.
//
// Proxyless gRPC gets none: gRPC-Go has no local rate limiting.
func rateLimitFiltersFor(snap *model.Snapshot, p model.Proxy) ([]*hcmv3.HttpFilter, []model.Problem) {
	if p.Kind == model.KindGRPC {
		var problems []model.Problem
		for _, a := range snap.RateLimitRulesFor(p.Namespace, p.Labels) {
			o := rateLimitOrigin(a)
			problems = append(problems, o.problem("not enforced on proxyless gRPC servers: gRPC-Go implements no local rate limiting, so requests to them are never limited"))
		}
		return nil, problems
	}
	rules, problems := buildRateLimitRules(snap, p)
	var routed map[string]int
	var out []*hcmv3.HttpFilter
	for _, r := range rules {
		if r.routeName == "" {
			out = append(out, httpFilter(r.filterName, anyOf(r.config)))
			continue
		}
		if routed == nil {
			routed = rateLimitedRouteCounts(snap, p)
		}
		if routed[r.filterName] == 0 {
			problems = append(problems, unmatchedRouteProblem(r, p))
			continue
		}
		out = append(out, httpFilter(r.filterName, disabledLocalRateLimit))
	}
	return out, problems
}

// builtRateLimitRule is a rule that applies to a proxy, translated.
type builtRateLimitRule struct {
	origin     origin
	filterName string
	// routeName is the VirtualService http route the rule is scoped to, if any.
	routeName string
	// config is the filter-level config of an unscoped rule; perRoute the
	// config of a scoped rule's routes.
	config, perRoute *localratelimitv3.LocalRateLimit
}

// buildRateLimitRules translates the rules that apply to proxy p, leaving
// out (and reporting) those Envoy would refuse.
func buildRateLimitRules(snap *model.Snapshot, p model.Proxy) ([]builtRateLimitRule, []model.Problem) {
	var out []builtRateLimitRule
	var problems []model.Problem
	for _, a := range snap.RateLimitRulesFor(p.Namespace, p.Labels) {
		o := rateLimitOrigin(a)
		cfg, statusProblem := localRateLimit(a)
		if statusProblem != "" {
			problems = append(problems, o.at(".response.status").problem("%s", statusProblem))
		}
		r := builtRateLimitRule{origin: o, filterName: rateLimitFilterName(a), config: cfg}
		if a.Rule.Match != nil && a.Rule.Match.RouteName != "" {
			r.routeName, r.config, r.perRoute = a.Rule.Match.RouteName, nil, perRouteLocalRateLimit(cfg)
		}
		if err := checkEnvoy(cmp.Or(r.config, r.perRoute)); err != nil {
			problems = append(problems, o.problem("%v: the rule is not enforced", err))
			continue
		}
		out = append(out, r)
	}
	return out, problems
}

func rateLimitOrigin(a model.AppliedRateLimitRule) origin {
	return origin{kind: model.KindRateLimitPolicy, meta: a.Policy.Meta, field: fmt.Sprintf("spec.rules[%d]", a.Index)}
}

func rateLimitFilterName(a model.AppliedRateLimitRule) string {
	return fmt.Sprintf("%s.%s.%s.%d", localRateLimitFilterName, a.Policy.Namespace, a.Policy.Name, a.Index)
}

// localRateLimit is the filter config of one rule. The second result
// explains a status Envoy cannot send, replaced by 429.
func localRateLimit(a model.AppliedRateLimitRule) (*localratelimitv3.LocalRateLimit, string) {
	rule := a.Rule
	id := fmt.Sprintf("%s/%s/%d", a.Policy.Namespace, a.Policy.Name, a.Index)
	actions := []*routev3.RateLimit_Action{{ActionSpecifier: &routev3.RateLimit_Action_GenericKey_{
		GenericKey: &routev3.RateLimit_Action_GenericKey{DescriptorKey: rateLimitRuleKey, DescriptorValue: id},
	}}}
	entries := []*ratelimitv3.RateLimitDescriptor_Entry{{Key: rateLimitRuleKey, Value: id}}
	if headers := rateLimitMatchHeaders(rule.Match); len(headers) > 0 {
		actions = append(actions, &routev3.RateLimit_Action{ActionSpecifier: &routev3.RateLimit_Action_HeaderValueMatch_{
			HeaderValueMatch: &routev3.RateLimit_Action_HeaderValueMatch{
				DescriptorKey: rateLimitMatchKey, DescriptorValue: "true",
				ExpectMatch: wrapperspb.Bool(true), Headers: headers,
			},
		}})
		entries = append(entries, &ratelimitv3.RateLimitDescriptor_Entry{Key: rateLimitMatchKey, Value: "true"})
	}
	cfg := &localratelimitv3.LocalRateLimit{
		StatPrefix:     rateLimitStatPrefix,
		FilterEnabled:  allRequests("local_rate_limit_enabled"),
		FilterEnforced: allRequests("local_rate_limit_enforced"),
		// One bucket per rule for the whole proxy, not per connection:
		// what the policy says is a rate into the workload.
		LocalRateLimitPerDownstreamConnection: false,
	}
	if c := rule.PerClient; c != nil {
		actions = append(actions, clientAction(c))
		entries = append(entries, &ratelimitv3.RateLimitDescriptor_Entry{Key: rateLimitClientKey})
		cfg.MaxDynamicDescriptors = wrapperspb.UInt32(maxRateLimitClients)
	}
	cfg.RateLimits = []*routev3.RateLimit{{Actions: actions}}
	cfg.Descriptors = []*ratelimitv3.LocalRateLimitDescriptor{{Entries: entries, TokenBucket: tokenBucket(rule.Limit)}}
	status := rule.Response.StatusOrDefault()
	var statusProblem string
	if _, known := typev3.StatusCode_name[int32(status)]; !known {
		statusProblem = fmt.Sprintf("Envoy cannot send status %d (not a status it knows): rejected requests get %d instead", status, model.DefaultRateLimitStatus)
		status = model.DefaultRateLimitStatus
	}
	cfg.Status = &typev3.HttpStatus{Code: typev3.StatusCode(status)}
	for _, h := range rule.Response.Headers {
		cfg.ResponseHeadersToAdd = append(cfg.ResponseHeadersToAdd, &corev3.HeaderValueOption{
			Header:       &corev3.HeaderValue{Key: strings.ToLower(h.Name), Value: h.Value},
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
		})
	}
	return cfg, statusProblem
}

// clientAction adds the client's key to the descriptor: a request header's
// value, or the URI SANs of the peer certificate (the SPIFFE identity under
// mTLS) through Envoy's uri_san matching input. A request without the
// header, or without a client certificate, produces no descriptor and is
// not limited by the rule.
func clientAction(c *model.RateLimitClient) *routev3.RateLimit_Action {
	if c.SourcePrincipal {
		return &routev3.RateLimit_Action{ActionSpecifier: &routev3.RateLimit_Action_Extension{
			Extension: &corev3.TypedExtensionConfig{Name: rateLimitClientKey, TypedConfig: anyOf(&sslinputsv3.UriSanInput{})},
		}}
	}
	return &routev3.RateLimit_Action{ActionSpecifier: &routev3.RateLimit_Action_RequestHeaders_{
		RequestHeaders: &routev3.RateLimit_Action_RequestHeaders{HeaderName: strings.ToLower(c.Header), DescriptorKey: rateLimitClientKey},
	}}
}

// rateLimitMatchHeaders expresses a rule's match as header matchers, all of
// which must match. The path is matched without the query string.
func rateLimitMatchHeaders(m *model.RateLimitMatch) []*routev3.HeaderMatcher {
	if m == nil {
		return nil
	}
	var out []*routev3.HeaderMatcher
	if p := m.Path; p != nil {
		out = append(out, &routev3.HeaderMatcher{Name: ":path", HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: pathMatcher(*p)}})
	}
	if m.Method != "" {
		out = append(out, &routev3.HeaderMatcher{Name: ":method", HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{
			StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: m.Method}},
		}})
	}
	for _, h := range m.Headers {
		sm := &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: h.Exact}}
		if h.Prefix != "" {
			sm.MatchPattern = &matcherv3.StringMatcher_Prefix{Prefix: h.Prefix}
		}
		out = append(out, &routev3.HeaderMatcher{Name: strings.ToLower(h.Name), HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: sm}})
	}
	return out
}

// pathMatcher matches :path, which carries the query string: an exact path
// is a regular expression that allows one after it.
func pathMatcher(p model.StringMatch) *matcherv3.StringMatcher {
	if p.Prefix != "" {
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: p.Prefix}}
	}
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{
		SafeRegex: &matcherv3.RegexMatcher{Regex: "^" + regexp.QuoteMeta(p.Exact) + `(\?.*)?$`},
	}}
}

func tokenBucket(l model.RateLimitLimit) *typev3.TokenBucket {
	interval := time.Second
	switch l.Unit {
	case model.RateLimitMinute:
		interval = time.Minute
	case model.RateLimitHour:
		interval = time.Hour
	}
	return &typev3.TokenBucket{
		MaxTokens:     uint32(l.BucketSize()),
		TokensPerFill: wrapperspb.UInt32(uint32(l.Requests)),
		FillInterval:  durationpb.New(interval),
	}
}

// allRequests is a runtime fraction of 100%: the filter is on and enforced
// unless the runtime key says otherwise.
func allRequests(runtimeKey string) *corev3.RuntimeFractionalPercent {
	return &corev3.RuntimeFractionalPercent{
		DefaultValue: &typev3.FractionalPercent{Numerator: 100, Denominator: typev3.FractionalPercent_HUNDRED},
		RuntimeKey:   runtimeKey,
	}
}
