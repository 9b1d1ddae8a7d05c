package translate

import (
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	networking "istio.io/api/networking/v1alpha3"

	"loom.dev/loom/pkg/validation"
)

// cors translates a corsPolicy into the per-route config of the CORS
// filter. Preflights from origins that do not match are forwarded to the
// application unless unmatchedPreflights is IGNORE, as in Istio.
func (rb *routeBuilder) cors(c *networking.CorsPolicy, at origin) (*anypb.Any, bool) {
	out := &corsv3.CorsPolicy{
		AllowMethods:  strings.Join(c.GetAllowMethods(), ","),
		AllowHeaders:  strings.Join(c.GetAllowHeaders(), ","),
		ExposeHeaders: strings.Join(c.GetExposeHeaders(), ","),
		FilterEnabled: &corev3.RuntimeFractionalPercent{DefaultValue: &typev3.FractionalPercent{
			Numerator: 100, Denominator: typev3.FractionalPercent_HUNDRED,
		}},
		ForwardNotMatchingPreflights: wrapperspb.Bool(c.GetUnmatchedPreflights() != networking.CorsPolicy_IGNORE),
	}
	if c.GetAllowCredentials() != nil {
		out.AllowCredentials = wrapperspb.Bool(c.GetAllowCredentials().GetValue())
	}
	if len(c.GetAllowOrigins()) > 0 {
		for i, o := range c.GetAllowOrigins() {
			if err := validation.StringMatch(o); err != nil || o.GetMatchType() == nil || o.GetRegex() == "*" {
				rb.report(at.at(".allowOrigins[%d]", i), "not a valid exact, prefix or regex match; the route is left out")
				return nil, false
			}
			out.AllowOriginStringMatch = append(out.AllowOriginStringMatch, stringMatcher(o))
		}
	} else {
		//nolint:staticcheck // allowOrigin is deprecated but users still write it.
		for _, o := range c.GetAllowOrigin() {
			out.AllowOriginStringMatch = append(out.AllowOriginStringMatch, &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: o}})
		}
	}
	if m := c.GetMaxAge(); m != nil {
		if err := validation.Duration(m); err != nil {
			rb.report(at.at(".maxAge"), "%v; the route is left out", err)
			return nil, false
		}
		out.MaxAge = strconv.FormatInt(m.GetSeconds(), 10)
	}
	if err := checkEnvoy(out); err != nil {
		rb.report(at, "%v", err)
		return nil, false
	}
	return anyOf(out), true
}
