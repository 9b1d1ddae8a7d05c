package translate

// Envoy RBAC matchers for AuthorizationPolicy values, with Istio's value
// syntax: "*" (presence), "*suffix", "prefix*" and exact.

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	rbacpb "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	uritemplatev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/path/match/uri_template/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// jwtFilterName and jwtPayloadKey are where Envoy's jwt_authn filter puts a
// verified token's claims; Istio's request.auth.* attributes read them.
const (
	jwtFilterName        = "envoy.filters.http.jwt_authn"
	jwtPayloadKey        = "payload"
	uriTemplateExtension = "envoy.path.match.uri_template.uri_template_matcher"
)

// stringMatch is Istio's matcher for a value, each value under prefix.
func stringMatch(v, prefix string, ignoreCase bool) *matcherv3.StringMatcher {
	switch {
	case v == "*":
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: ".+"}}}
	case strings.HasPrefix(v, "*"):
		if prefix == "" {
			return &matcherv3.StringMatcher{IgnoreCase: ignoreCase, MatchPattern: &matcherv3.StringMatcher_Suffix{Suffix: v[1:]}}
		}
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: regexp.QuoteMeta(prefix) + ".*" + regexp.QuoteMeta(v[1:])}}}
	case strings.HasSuffix(v, "*"):
		return &matcherv3.StringMatcher{IgnoreCase: ignoreCase, MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: prefix + strings.TrimSuffix(v, "*")}}
	}
	return &matcherv3.StringMatcher{IgnoreCase: ignoreCase, MatchPattern: &matcherv3.StringMatcher_Exact{Exact: prefix + v}}
}

func regexMatch(re string) *matcherv3.StringMatcher {
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: re}}}
}

// headerMatch is Istio's header matcher: "*" is presence, else stringMatch.
func headerMatch(name, v string, ignoreCase bool) *routev3.HeaderMatcher {
	if v == "*" {
		return &routev3.HeaderMatcher{Name: name, HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}}
	}
	return &routev3.HeaderMatcher{Name: name, HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: stringMatch(v, "", ignoreCase)}}
}

func authenticated(m *matcherv3.StringMatcher) *rbacpb.Principal {
	return &rbacpb.Principal{Identifier: &rbacpb.Principal_Authenticated_{Authenticated: &rbacpb.Principal_Authenticated{PrincipalName: m}}}
}

// principalName matches a source.principal ("<trust domain>/ns/<ns>/sa/<sa>")
// against the peer certificate's SPIFFE id. As in Istio, the trust domain
// cluster.local stands for the mesh's own.
func principalName(v, trustDomain string) *rbacpb.Principal {
	if rest, ok := strings.CutPrefix(v, "cluster.local/"); ok {
		v = trustDomain + "/" + rest
	}
	return authenticated(stringMatch(v, "spiffe://", false))
}

func namespaceName(v string) *rbacpb.Principal {
	parts := strings.Split(v, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return authenticated(regexMatch(".*/ns/" + strings.Join(parts, ".*") + "/.*"))
}

// serviceAccountName is Istio's serviceAccounts match: "sa" in the policy's
// namespace, or "ns/sa".
func serviceAccountName(v, policyNamespace string) *rbacpb.Principal {
	ns, sa, ok := strings.Cut(v, "/")
	if !ok {
		ns, sa = policyNamespace, v
	}
	return authenticated(regexMatch(fmt.Sprintf("spiffe://.+/ns/%s/(.+/|)sa/%s(/.+)?", regexp.QuoteMeta(ns), regexp.QuoteMeta(sa))))
}

func trustDomainName(v string) *rbacpb.Principal {
	switch {
	case v == "*":
		return authenticated(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: "spiffe://"}})
	case !strings.Contains(v, "*"):
		return authenticated(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: "spiffe://" + v + "/"}})
	}
	before, after, _ := strings.Cut(v, "*")
	return authenticated(regexMatch("spiffe://" + regexp.QuoteMeta(before) + "[^/]*" + regexp.QuoteMeta(after) + "/.*"))
}

func ipPrincipal(v string, remote bool) (*rbacpb.Principal, string) {
	r, ok := cidrRange(v)
	if !ok {
		return nil, "bad IP address or CIDR block " + strconv.Quote(v)
	}
	if remote {
		return &rbacpb.Principal{Identifier: &rbacpb.Principal_RemoteIp{RemoteIp: r}}, ""
	}
	return &rbacpb.Principal{Identifier: &rbacpb.Principal_DirectRemoteIp{DirectRemoteIp: r}}, ""
}

// jwtClaim matches a claim of the verified token; a list-valued claim
// (aud, or any claim but iss and sub) may be a string or a list of
// strings, either matching.
func jwtClaim(path []string, m *matcherv3.StringMatcher, listValued bool) *rbacpb.Principal {
	segments := []*matcherv3.MetadataMatcher_PathSegment{{Segment: &matcherv3.MetadataMatcher_PathSegment_Key{Key: jwtPayloadKey}}}
	for _, k := range path {
		segments = append(segments, &matcherv3.MetadataMatcher_PathSegment{Segment: &matcherv3.MetadataMatcher_PathSegment_Key{Key: k}})
	}
	value := &matcherv3.ValueMatcher{MatchPattern: &matcherv3.ValueMatcher_StringMatch{StringMatch: m}}
	if !listValued {
		return &rbacpb.Principal{Identifier: &rbacpb.Principal_Metadata{Metadata: &matcherv3.MetadataMatcher{Filter: jwtFilterName, Path: segments, Value: value}}} //nolint:staticcheck // the matcher Istio generates (sourced_metadata is newer)
	}
	list := &matcherv3.ValueMatcher{MatchPattern: &matcherv3.ValueMatcher_ListMatch{ListMatch: &matcherv3.ListMatcher{MatchPattern: &matcherv3.ListMatcher_OneOf{OneOf: value}}}}
	either := &matcherv3.ValueMatcher{MatchPattern: &matcherv3.ValueMatcher_OrMatch{OrMatch: &matcherv3.OrMatcher{ValueMatchers: []*matcherv3.ValueMatcher{list, value}}}}
	return &rbacpb.Principal{Identifier: &rbacpb.Principal_Metadata{Metadata: &matcherv3.MetadataMatcher{Filter: jwtFilterName, Path: segments, Value: either}}} //nolint:staticcheck // the matcher Istio generates (sourced_metadata is newer)
}

// requestPrincipal is Istio's "<iss>/<sub>" match on the token's claims.
func requestPrincipal(v string) *rbacpb.Principal {
	anything := regexMatch(".+")
	idx := strings.LastIndex(v, "/")
	iss, sub := v, ""
	if idx >= 0 {
		iss, sub = v[:idx], v[idx+1:]
	}
	var mi, ms *matcherv3.StringMatcher
	switch {
	case v == "*":
		mi, ms = anything, anything
	case strings.HasPrefix(v, "*") && idx >= 0:
		mi, ms = anything, exact(sub)
		if iss != "*" {
			mi = &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Suffix{Suffix: iss[1:]}}
		}
	case strings.HasPrefix(v, "*"):
		mi, ms = anything, &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Suffix{Suffix: v[1:]}}
	case strings.HasSuffix(v, "*") && idx >= 0:
		mi, ms = exact(iss), anything
		if sub != "*" {
			ms = &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: strings.TrimSuffix(sub, "*")}}
		}
	case strings.HasSuffix(v, "*"):
		mi, ms = &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: strings.TrimSuffix(v, "*")}}, anything
	default:
		mi, ms = exact(iss), exact(sub)
	}
	return principalAnd([]*rbacpb.Principal{jwtClaim([]string{"iss"}, mi, false), jwtClaim([]string{"sub"}, ms, false)})
}

func exact(v string) *matcherv3.StringMatcher {
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: v}}
}

// isPathTemplate reports whether a path uses Istio's {*} or {**} segments.
func isPathTemplate(p string) bool {
	return strings.Contains(p, "{*}") || strings.Contains(p, "{**}")
}

func pathPermission(v string) *rbacpb.Permission {
	if isPathTemplate(v) {
		tmpl := strings.NewReplacer("{*}", "*", "{**}", "**").Replace(v)
		return &rbacpb.Permission{Rule: &rbacpb.Permission_UriTemplate{UriTemplate: &corev3.TypedExtensionConfig{
			Name: uriTemplateExtension, TypedConfig: anyOf(&uritemplatev3.UriTemplateMatchConfig{PathTemplate: tmpl}),
		}}}
	}
	return &rbacpb.Permission{Rule: &rbacpb.Permission_UrlPath{UrlPath: &matcherv3.PathMatcher{Rule: &matcherv3.PathMatcher_Path{Path: stringMatch(v, "", false)}}}}
}

func headerPermission(h *routev3.HeaderMatcher) *rbacpb.Permission {
	return &rbacpb.Permission{Rule: &rbacpb.Permission_Header{Header: h}}
}

func portPermission(v string) (*rbacpb.Permission, string) {
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n > 65535 {
		return nil, "bad port " + strconv.Quote(v)
	}
	return &rbacpb.Permission{Rule: &rbacpb.Permission_DestinationPort{DestinationPort: uint32(n)}}, ""
}

// bracketed splits "a[b]" or "a[b][c]" (after the key's prefix) into b, c.
func bracketed(s string) ([]string, bool) {
	var out []string
	for s != "" {
		if !strings.HasPrefix(s, "[") {
			return nil, false
		}
		end := strings.Index(s, "]")
		if end < 2 {
			return nil, false
		}
		out = append(out, s[1:end])
		s = s[end+1:]
	}
	return out, len(out) > 0
}

func permissionAnd(ps []*rbacpb.Permission) *rbacpb.Permission {
	return &rbacpb.Permission{Rule: &rbacpb.Permission_AndRules{AndRules: &rbacpb.Permission_Set{Rules: ps}}}
}

func permissionOr(ps []*rbacpb.Permission) *rbacpb.Permission {
	return &rbacpb.Permission{Rule: &rbacpb.Permission_OrRules{OrRules: &rbacpb.Permission_Set{Rules: ps}}}
}

func permissionNot(p *rbacpb.Permission) *rbacpb.Permission {
	return &rbacpb.Permission{Rule: &rbacpb.Permission_NotRule{NotRule: p}}
}

func principalAnd(ps []*rbacpb.Principal) *rbacpb.Principal {
	return &rbacpb.Principal{Identifier: &rbacpb.Principal_AndIds{AndIds: &rbacpb.Principal_Set{Ids: ps}}}
}

func principalOr(ps []*rbacpb.Principal) *rbacpb.Principal {
	return &rbacpb.Principal{Identifier: &rbacpb.Principal_OrIds{OrIds: &rbacpb.Principal_Set{Ids: ps}}}
}

func principalNot(p *rbacpb.Principal) *rbacpb.Principal {
	return &rbacpb.Principal{Identifier: &rbacpb.Principal_NotId{NotId: p}}
}

var (
	permissionAny = &rbacpb.Permission{Rule: &rbacpb.Permission_Any{Any: true}}
	principalAny  = &rbacpb.Principal{Identifier: &rbacpb.Principal_Any{Any: true}}
)

// matchNever is Istio's policy for a policy without rules: it matches no
// request (so an ALLOW without rules allows nothing).
func matchNever() *rbacpb.Policy {
	return &rbacpb.Policy{Permissions: []*rbacpb.Permission{permissionNot(permissionAny)}, Principals: []*rbacpb.Principal{principalNot(principalAny)}}
}

// matchAll is the policy of a rule that fails closed: every request.
func matchAll() *rbacpb.Policy {
	return &rbacpb.Policy{Permissions: []*rbacpb.Permission{permissionAny}, Principals: []*rbacpb.Principal{principalAny}}
}

// envoyMetadataPermission is Istio's experimental.envoy.filters.<f>[key]
// condition: value "[v]" matches v in a list, any other value the string.
func envoyMetadataPermission(filter, key, v string) *rbacpb.Permission {
	value := &matcherv3.ValueMatcher{MatchPattern: &matcherv3.ValueMatcher_StringMatch{StringMatch: stringMatch(v, "", false)}}
	if strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]") && len(v) > 2 {
		inner := &matcherv3.ValueMatcher{MatchPattern: &matcherv3.ValueMatcher_StringMatch{StringMatch: stringMatch(strings.Trim(v, "[]"), "", false)}}
		value = &matcherv3.ValueMatcher{MatchPattern: &matcherv3.ValueMatcher_ListMatch{ListMatch: &matcherv3.ListMatcher{MatchPattern: &matcherv3.ListMatcher_OneOf{OneOf: inner}}}}
	}
	return &rbacpb.Permission{Rule: &rbacpb.Permission_Metadata{Metadata: &matcherv3.MetadataMatcher{ //nolint:staticcheck // the matcher Istio generates (sourced_metadata is newer)
		Filter: filter,
		Path:   []*matcherv3.MetadataMatcher_PathSegment{{Segment: &matcherv3.MetadataMatcher_PathSegment_Key{Key: key}}},
		Value:  value,
	}}}
}
