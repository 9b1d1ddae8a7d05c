package model

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	security "istio.io/api/security/v1beta1"
	typev1beta1 "istio.io/api/type/v1beta1"
)

// RequestAuthentication is a security.istio.io RequestAuthentication (v1
// and v1beta1 share the spec): which JWTs a workload's proxy verifies.
type RequestAuthentication = Config[*security.RequestAuthentication]

// KindRequestAuthentication names the kind in problems.
const KindRequestAuthentication = "RequestAuthentication"

// FailClosedJWKS is the key set a JWT rule gets when its keys could not be
// fetched, as istiod does: a public RSA key whose private key was
// discarded when it was generated, so no token verifies against it and
// every token of the rule's issuer is rejected.
const FailClosedJWKS = `{"keys":[{"kty":"RSA","alg":"RS256","kid":"loom-fail-closed","e":"AQAB","n":"sLdoglsIbZ3unH5ge7xN2WcsOcW-rdwQDlKpsCkjlcQipY0rjGPU7ldz9FR4KGsP-y-N1vKQQXM7LFaDxqWEhqaDtN7J_V5iw-vtaWuzAO51e0zk7wyhtWaK6IO3yPw-jL0unZlDKlKlJiSUUYNfE1iGMncr4Ot8IHxaS01P6DCpmQCmO_11MmmUhYLVezKqQ9_4Dwb_sbOxfgt3k974vpA-BvVNaybcEAzzqVtThUmrmtQVSsEL88O6zrxxKnTnQcJFQIW9RqyuKk7XYf6j_UzNU5px42SRa2dIah8JjlyhXFdxHsAEOqxxOxKbdyLjXzvQmtLikg3hp0VHOlljcw"}]}`

// JWKSSource is where the control plane fetches a rule's keys: its jwksUri,
// or, without one, the issuer's OpenID discovery document (URI empty).
type JWKSSource struct {
	Issuer string
	URI    string
}

func (s JWKSSource) String() string {
	if s.URI != "" {
		return s.URI
	}
	return strings.TrimSuffix(s.Issuer, "/") + "/.well-known/openid-configuration"
}

// FetchedJWKS is what the control plane holds for one JWKSSource.
type FetchedJWKS struct {
	// Keys is the last key set fetched successfully; empty if none ever was.
	Keys string
	// Error is why the latest fetch failed; empty when it succeeded.
	Error string
}

// JWKSSourceOf is where the keys of a rule without inline jwks come from;
// ok is false when the rule inlines its keys.
func JWKSSourceOf(rule *security.JWTRule) (JWKSSource, bool) {
	if rule.GetJwks() != "" {
		return JWKSSource{}, false
	}
	return JWKSSource{Issuer: rule.GetIssuer(), URI: rule.GetJwksUri()}, true
}

// AppliedRequestAuthentication is a policy that applies to one workload
// and how it was picked.
type AppliedRequestAuthentication struct {
	Policy *RequestAuthentication
	// TargetRefField, when set, names the targetRef that picked the
	// workload (a Service it serves). Istio applies such a policy only on
	// the Service's waypoint; Loom runs none and applies it on the
	// workloads the Service selects, as it does AuthorizationPolicies
	// bound to the same Service.
	TargetRefField string
}

// JWTRule is one JWT rule of a policy that applies to a workload, with
// the keys it verifies tokens with.
type JWTRule struct {
	Policy *RequestAuthentication
	// Field is the rule's path in the policy ("spec.jwtRules[1]").
	Field string
	Rule  *security.JWTRule
	// JWKS is the inline jwks, the fetched keys, or FailClosedJWKS.
	JWKS string
	// FailClosed reports that JWKS is FailClosedJWKS.
	FailClosed bool
}

func raTargetRefs(ra *RequestAuthentication) []*typev1beta1.PolicyTargetReference {
	if refs := ra.Spec.GetTargetRefs(); len(refs) > 0 {
		return refs
	}
	if ref := ra.Spec.GetTargetRef(); ref != nil {
		return []*typev1beta1.PolicyTargetReference{ref}
	}
	return nil
}

func raTargetRefField(ra *RequestAuthentication, i int) string {
	if len(ra.Spec.GetTargetRefs()) == 0 {
		return "spec.targetRef"
	}
	return fmt.Sprintf("spec.targetRefs[%d]", i)
}

// RequestAuthenticationsFor lists the policies that apply to a workload in
// namespace with labels, oldest first, selected as AuthorizationPolicies
// are (and as Istio selects both): root namespace without selector is
// mesh-wide, a root namespace selector picks matching workloads of every
// namespace, a namespace's policy picks its own workloads; targetRef(s)
// replace the selector, and only Service targets pick workloads Loom runs.
func (s *Snapshot) RequestAuthenticationsFor(namespace string, labels map[string]string) []AppliedRequestAuthentication {
	var out []AppliedRequestAuthentication
	for _, ra := range s.requestAuthentications {
		if refs := raTargetRefs(ra); len(refs) > 0 {
			if ra.Namespace != namespace {
				continue
			}
			for i, ref := range refs {
				if isServiceRef(ref) && s.serviceSelects(namespace, ref.GetName(), labels) {
					out = append(out, AppliedRequestAuthentication{Policy: ra, TargetRefField: raTargetRefField(ra, i)})
					break
				}
			}
			continue
		}
		selector := ra.Spec.GetSelector().GetMatchLabels()
		inScope := ra.Namespace == s.rootNamespace || ra.Namespace == namespace
		if inScope && (len(selector) == 0 || labelsMatch(selector, labels)) {
			out = append(out, AppliedRequestAuthentication{Policy: ra})
		}
	}
	return out
}

// JWTRulesFor merges the JWT rules of every policy that applies to a
// workload, as Istio does: all rules are kept, sorted by issuer (ties in
// policy age order, then rule order), one Envoy provider each. Two rules
// with the same issuer stay two providers (Istio does not deduplicate,
// istio/istio#19245): a token valid for either passes.
func (s *Snapshot) JWTRulesFor(namespace string, labels map[string]string) []JWTRule {
	var out []JWTRule
	for _, a := range s.RequestAuthenticationsFor(namespace, labels) {
		for i, rule := range a.Policy.Spec.GetJwtRules() {
			if rule == nil {
				continue
			}
			r := JWTRule{Policy: a.Policy, Field: fmt.Sprintf("spec.jwtRules[%d]", i), Rule: rule, JWKS: rule.GetJwks()}
			if src, ok := JWKSSourceOf(rule); ok {
				r.JWKS = s.fetchedJWKS[src].Keys
				if r.JWKS == "" {
					r.JWKS, r.FailClosed = FailClosedJWKS, true
				}
			}
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b JWTRule) int { return cmp.Compare(a.Rule.GetIssuer(), b.Rule.GetIssuer()) })
	return out
}

// checkRequestAuthentications reports target references, and keys that
// could not be fetched: the last good keys stay in use, and a rule never
// given keys fails closed.
func (s *Snapshot) checkRequestAuthentications() {
	for _, ra := range s.requestAuthentications {
		for i, ref := range raTargetRefs(ra) {
			field := raTargetRefField(ra, i)
			if isServiceRef(ref) {
				s.report(KindRequestAuthentication, ra.Meta, field,
					"Istio applies a policy bound to Service %s only on its waypoint, which Loom does not run: the workloads the Service selects verify its tokens instead", ref.GetName())
				continue
			}
			s.report(KindRequestAuthentication, ra.Meta, field,
				"not enforced: %s %s/%s is not a proxy Loom runs (Istio applies such a reference to waypoints and Gateway API gateways only)", ref.GetKind(), ref.GetGroup(), ref.GetName())
		}
		for i, rule := range ra.Spec.GetJwtRules() {
			src, ok := JWKSSourceOf(rule)
			if !ok || src == (JWKSSource{}) {
				continue // nothing to fetch from: translation reports the invalid rule
			}
			field := fmt.Sprintf("spec.jwtRules[%d].jwksUri", i)
			if src.URI == "" {
				field = fmt.Sprintf("spec.jwtRules[%d].issuer", i)
			}
			fetched, known := s.fetchedJWKS[src]
			switch {
			case !known:
				s.report(KindRequestAuthentication, ra.Meta, field,
					"no keys were fetched from %s yet: failing closed, every token of issuer %q is rejected", src, rule.GetIssuer())
			case fetched.Keys == "":
				s.report(KindRequestAuthentication, ra.Meta, field,
					"keys could not be fetched from %s (%s): failing closed, every token of issuer %q is rejected", src, fetched.Error, rule.GetIssuer())
			case fetched.Error != "":
				s.report(KindRequestAuthentication, ra.Meta, field,
					"refreshing the keys from %s failed (%s): the last keys fetched stay in use", src, fetched.Error)
			}
		}
	}
}

func validRequestAuthentications(in []*RequestAuthentication) []*RequestAuthentication {
	out := make([]*RequestAuthentication, 0, len(in))
	for _, ra := range in {
		if ra != nil && ra.Spec != nil {
			out = append(out, ra)
		}
	}
	return sortedByAge(out)
}
