package translate

import (
	"maps"
	"slices"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
	networking "istio.io/api/networking/v1alpha3"

	"loom.dev/loom/pkg/validation"
)

// routeMatch translates one HTTPMatchRequest; conditions within it all
// have to hold. A nil match matches everything. Its source conditions
// (sourceLabels, gateways, port...) are applied by routeBuilder.applies.
func (rb *routeBuilder) routeMatch(m *networking.HTTPMatchRequest, at origin) (*routev3.RouteMatch, bool) {
	out := &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}}
	if m == nil {
		return out, true
	}
	if uri := m.GetUri(); uri.GetMatchType() != nil {
		switch v := uri.GetMatchType().(type) {
		case *networking.StringMatch_Exact:
			out.PathSpecifier = &routev3.RouteMatch_Path{Path: v.Exact}
		case *networking.StringMatch_Prefix:
			out.PathSpecifier = &routev3.RouteMatch_Prefix{Prefix: v.Prefix}
		case *networking.StringMatch_Regex:
			if err := validation.Regex(v.Regex); err != nil {
				rb.report(at.at(".uri.regex"), "%v; the route is left out", err)
				return nil, false
			}
			out.PathSpecifier = &routev3.RouteMatch_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: v.Regex}}
		}
		if uri.GetExact() == "" && uri.GetPrefix() == "" && uri.GetRegex() == "" {
			rb.report(at.at(".uri"), "empty match; the route is left out")
			return nil, false
		}
	}
	if m.GetIgnoreUriCase() {
		out.CaseSensitive = wrapperspb.Bool(false)
	}
	for _, h := range []struct {
		field  string
		values map[string]*networking.StringMatch
		invert bool
	}{{"headers", m.GetHeaders(), false}, {"withoutHeaders", m.GetWithoutHeaders(), true}} {
		for _, name := range slices.Sorted(maps.Keys(h.values)) {
			hat := at.at(".%s[%s]", h.field, name)
			if strings.HasPrefix(name, "@") {
				rb.report(hat, "matching on %s (JWT claims) is not supported; the route is left out", name)
				return nil, false
			}
			if err := validation.HeaderName(name); err != nil {
				rb.report(hat, "%v; the route is left out", err)
				return nil, false
			}
			hm, ok := rb.headerMatcher(name, h.values[name], hat)
			if !ok {
				return nil, false
			}
			if h.invert {
				hm.InvertMatch = true
				// A missing header is "not equal", like an empty value.
				hm.TreatMissingHeaderAsEmpty = !hm.GetPresentMatch()
			}
			out.Headers = append(out.Headers, hm)
		}
	}
	slices.SortStableFunc(out.Headers, func(a, b *routev3.HeaderMatcher) int { return strings.Compare(a.Name, b.Name) })
	for _, pseudo := range []struct {
		name, field string
		match       *networking.StringMatch
	}{{":method", "method", m.GetMethod()}, {":authority", "authority", m.GetAuthority()}, {":scheme", "scheme", m.GetScheme()}} {
		if pseudo.match == nil {
			continue
		}
		hm, ok := rb.headerMatcher(pseudo.name, pseudo.match, at.at(".%s", pseudo.field))
		if !ok {
			return nil, false
		}
		out.Headers = append(out.Headers, hm)
	}
	for _, name := range slices.Sorted(maps.Keys(m.GetQueryParams())) {
		qm, ok := rb.queryMatcher(name, m.GetQueryParams()[name], at.at(".queryParams[%s]", name))
		if !ok {
			return nil, false
		}
		out.QueryParameters = append(out.QueryParameters, qm)
	}
	return out, true
}

// headerMatcher matches a header by a StringMatch; an empty match (or the
// regex "*", which Istio reads the same way) only requires the header.
func (rb *routeBuilder) headerMatcher(name string, sm *networking.StringMatch, at origin) (*routev3.HeaderMatcher, bool) {
	hm := &routev3.HeaderMatcher{Name: name}
	if presentOnly(sm) {
		hm.HeaderMatchSpecifier = &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}
		return hm, true
	}
	if err := validation.StringMatch(sm); err != nil {
		rb.report(at, "%v; the route is left out", err)
		return nil, false
	}
	hm.HeaderMatchSpecifier = &routev3.HeaderMatcher_StringMatch{StringMatch: stringMatcher(sm)}
	return hm, true
}

// queryMatcher matches a query parameter exactly, by prefix or by regex.
// Istio's documentation lists prefix as unsupported, but istiod accepts
// and translates it, so Loom does too.
func (rb *routeBuilder) queryMatcher(name string, sm *networking.StringMatch, at origin) (*routev3.QueryParameterMatcher, bool) {
	qm := &routev3.QueryParameterMatcher{Name: name}
	if name == "" {
		rb.report(at, "empty query parameter name; the route is left out")
		return nil, false
	}
	if presentOnly(sm) {
		qm.QueryParameterMatchSpecifier = &routev3.QueryParameterMatcher_PresentMatch{PresentMatch: true}
		return qm, true
	}
	if err := validation.StringMatch(sm); err != nil {
		rb.report(at, "%v; the route is left out", err)
		return nil, false
	}
	qm.QueryParameterMatchSpecifier = &routev3.QueryParameterMatcher_StringMatch{StringMatch: stringMatcher(sm)}
	return qm, true
}

func presentOnly(sm *networking.StringMatch) bool {
	return sm.GetMatchType() == nil || sm.GetRegex() == "*"
}

// stringMatcher converts a StringMatch checked by validation.StringMatch.
func stringMatcher(sm *networking.StringMatch) *matcherv3.StringMatcher {
	switch v := sm.GetMatchType().(type) {
	case *networking.StringMatch_Prefix:
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: v.Prefix}}
	case *networking.StringMatch_Regex:
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: v.Regex}}}
	}
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: sm.GetExact()}}
}
