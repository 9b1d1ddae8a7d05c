package translate

import (
	"fmt"
	"slices"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/emptypb"
	security "istio.io/api/security/v1beta1"

	"loom.dev/loom/pkg/model"
	"loom.dev/loom/pkg/validation"
)

// defaultSpaceDelimitedClaims are the claims Istio always splits on spaces
// before matching (OAuth scopes): request.auth.claims[scope] matches one.
var defaultSpaceDelimitedClaims = []string{"permission", "scope"}

// jwtFilterFor is the jwt_authn filter of proxy p, nil when no
// RequestAuthentication applies to its workload. It runs before the RBAC
// filters, which read the verified payload it leaves in the request's
// dynamic metadata.
//
// gRPC-Go has no JWT authentication: for a proxyless gRPC server each
// applying policy is reported and no filter is sent (gRPC-Go NACKs
// filters it does not know). Its RBAC then never sees a request principal
// or request.auth claim (gRPC-Go never matches filter metadata), so ALLOW
// rules that need one allow nothing.
func jwtFilterFor(snap *model.Snapshot, p model.Proxy) (*hcmv3.HttpFilter, []model.Problem) {
	if p.Kind == model.KindGRPC {
		var problems []model.Problem
		for _, a := range snap.RequestAuthenticationsFor(p.Namespace, p.Labels) {
			o := origin{kind: model.KindRequestAuthentication, meta: a.Policy.Meta, field: "spec.jwtRules"}
			problems = append(problems, o.problem("not enforced on proxyless gRPC servers: gRPC-Go has no JWT authentication, so tokens are not verified and no request has a request principal or request.auth claims there (AuthorizationPolicy rules that require one never match: ALLOW rules on them allow nothing, DENY rules on them deny nothing)"))
		}
		return nil, problems
	}
	rules := snap.JWTRulesFor(p.Namespace, p.Labels)
	if len(rules) == 0 {
		return nil, nil
	}
	cfg, problems := buildJWTAuthn(rules)
	return httpFilter(jwtFilterName, anyOf(cfg)), problems
}

// buildJWTAuthn translates a workload's merged JWT rules as istiod does:
// one provider per rule ("origins-<i>", in issuer order) and a single
// requirement on every path. A missing token passes (AuthorizationPolicy
// decides whether a principal is required); a token that is present must
// verify, or Envoy answers 401:
//   - one provider: requires_any {provider, allow_missing};
//   - several: requires_any {P0, ..., Pn, requires_all {requires_any {Pi,
//     allow_missing} for each i}}. The inner AND rejects a token that
//     fails the provider of its issuer; the outer alternatives accept a
//     token valid for one provider when several share its location (the
//     AND would fail on the others).
//
// CORS preflights bypass the filter, as in Istio.
//
// A rule that is invalid, or that translates to an invalid provider, fails
// closed: its provider keeps the issuer but verifies with
// model.FailClosedJWKS and the default token locations, so its tokens are
// rejected.
func buildJWTAuthn(rules []model.JWTRule) (*jwtv3.JwtAuthentication, []model.Problem) {
	var problems []model.Problem
	invalid := invalidJWTRules(rules)
	providers := make(map[string]*jwtv3.JwtProvider, len(rules))
	var each, inner []*jwtv3.JwtRequirement
	for i, r := range rules {
		o := origin{kind: model.KindRequestAuthentication, meta: r.Policy.Meta, field: r.Field}
		provider := jwtProvider(r)
		if findings := invalid[r.Policy.Meta.String()+"/"+r.Field]; len(findings) > 0 {
			for _, f := range findings {
				problems = append(problems, model.Problem{Kind: model.KindRequestAuthentication, Meta: r.Policy.Meta, Field: f.Field,
					Message: f.Message + "; failing closed: tokens of issuer " + fmt.Sprintf("%q", r.Rule.GetIssuer()) + " are rejected"})
			}
			provider = failClosedProvider(r.Rule.GetIssuer())
		} else if err := checkEnvoy(provider); err != nil {
			problems = append(problems, o.problem("%v; failing closed: tokens of issuer %q are rejected", err, r.Rule.GetIssuer()))
			provider = failClosedProvider(r.Rule.GetIssuer())
		}
		name := fmt.Sprintf("origins-%d", i)
		providers[name] = provider
		each = append(each, providerRequirement(name))
		inner = append(inner, anyOfRequirements(providerRequirement(name), allowMissing()))
	}
	requires := inner[0]
	if len(inner) > 1 {
		requires = anyOfRequirements(append(each, &jwtv3.JwtRequirement{RequiresType: &jwtv3.JwtRequirement_RequiresAll{
			RequiresAll: &jwtv3.JwtRequirementAndList{Requirements: inner},
		}})...)
	}
	return &jwtv3.JwtAuthentication{
		Providers: providers,
		Rules: []*jwtv3.RequirementRule{{
			Match:           &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
			RequirementType: &jwtv3.RequirementRule_Requires{Requires: requires},
		}},
		BypassCorsPreflight: true,
	}, problems
}

// jwtProvider is Envoy's provider for one rule; the payload lands in the
// metadata key the RBAC filters read (jwtPayloadKey).
func jwtProvider(r model.JWTRule) *jwtv3.JwtProvider {
	rule := r.Rule
	p := &jwtv3.JwtProvider{
		Issuer:               rule.GetIssuer(),
		Audiences:            rule.GetAudiences(),
		Forward:              rule.GetForwardOriginalToken(),
		ForwardPayloadHeader: rule.GetOutputPayloadToHeader(),
		PayloadInMetadata:    jwtPayloadKey,
		NormalizePayloadInMetadata: &jwtv3.JwtProvider_NormalizePayload{
			SpaceDelimitedClaims: spaceDelimitedClaims(rule.GetSpaceDelimitedClaims()),
		},
		FromParams:          rule.GetFromParams(),
		FromCookies:         rule.GetFromCookies(),
		JwksSourceSpecifier: localJWKS(r.JWKS),
	}
	for _, h := range rule.GetFromHeaders() {
		p.FromHeaders = append(p.FromHeaders, &jwtv3.JwtHeader{Name: h.GetName(), ValuePrefix: h.GetPrefix()})
	}
	for _, ch := range rule.GetOutputClaimToHeaders() {
		p.ClaimToHeaders = append(p.ClaimToHeaders, &jwtv3.JwtClaimToHeader{HeaderName: ch.GetHeader(), ClaimName: ch.GetClaim()})
	}
	return p
}

func failClosedProvider(issuer string) *jwtv3.JwtProvider {
	return &jwtv3.JwtProvider{Issuer: issuer, PayloadInMetadata: jwtPayloadKey, JwksSourceSpecifier: localJWKS(model.FailClosedJWKS)}
}

func localJWKS(keys string) *jwtv3.JwtProvider_LocalJwks {
	return &jwtv3.JwtProvider_LocalJwks{LocalJwks: &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: keys}}}
}

// spaceDelimitedClaims is Istio's list: the defaults plus the rule's own,
// sorted and without repeats.
func spaceDelimitedClaims(extra []string) []string {
	out := append(slices.Clone(defaultSpaceDelimitedClaims), extra...)
	slices.Sort(out)
	return slices.Compact(out)
}

func providerRequirement(name string) *jwtv3.JwtRequirement {
	return &jwtv3.JwtRequirement{RequiresType: &jwtv3.JwtRequirement_ProviderName{ProviderName: name}}
}

func allowMissing() *jwtv3.JwtRequirement {
	return &jwtv3.JwtRequirement{RequiresType: &jwtv3.JwtRequirement_AllowMissing{AllowMissing: &emptypb.Empty{}}}
}

func anyOfRequirements(reqs ...*jwtv3.JwtRequirement) *jwtv3.JwtRequirement {
	return &jwtv3.JwtRequirement{RequiresType: &jwtv3.JwtRequirement_RequiresAny{
		RequiresAny: &jwtv3.JwtRequirementOrList{Requirements: reqs},
	}}
}

// invalidJWTRules validates each policy once with the webhook's checks and
// returns the errors about its rules, keyed by "<ns>/<name>/spec.jwtRules[i]".
// Selector and targetRef errors are the model's business (it decides
// scope), and warnings do not reject anything.
func invalidJWTRules(rules []model.JWTRule) map[string][]validation.Finding {
	out := map[string][]validation.Finding{}
	seen := map[*security.RequestAuthentication]bool{}
	for _, r := range rules {
		spec := r.Policy.Spec
		if seen[spec] {
			continue
		}
		seen[spec] = true
		for _, f := range validation.RequestAuthentication(spec).Errors {
			rest, ok := strings.CutPrefix(f.Field, "spec.jwtRules[")
			end := strings.Index(rest, "]")
			if !ok || end < 0 {
				continue
			}
			key := r.Policy.Meta.String() + "/spec.jwtRules[" + rest[:end] + "]"
			out[key] = append(out[key], f)
		}
	}
	return out
}
