package validation

import (
	"encoding/json"
	"net/url"
	"regexp"

	security "istio.io/api/security/v1beta1"
	typev1beta1 "istio.io/api/type/v1beta1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// PeerAuthentication validates a PeerAuthentication.
func PeerAuthentication(pa *security.PeerAuthentication) Result {
	var r Result
	at := spec()
	if len(pa.GetSelector().GetMatchLabels()) == 0 && len(pa.GetPortLevelMtls()) > 0 {
		r.errorf(at.Child("portLevelMtls"), "a mesh- or namespace-wide PeerAuthentication (no selector labels) cannot set port-level mTLS")
	}
	if pa.GetPortLevelMtls() != nil && len(pa.GetPortLevelMtls()) == 0 {
		r.errorf(at.Child("portLevelMtls"), "if set, needs at least one port")
	}
	for p := range pa.GetPortLevelMtls() {
		if p == 0 || p > 65535 {
			r.errorf(at.Child("portLevelMtls").Key(itoa(int64(p))), "port must be in 1..65535")
		}
	}
	if pa.GetSelector() != nil {
		checkSelectorLabels(&r, at.Child("selector", "matchLabels"), pa.GetSelector().GetMatchLabels())
	}
	return r
}

// RequestAuthentication validates a RequestAuthentication.
func RequestAuthentication(ra *security.RequestAuthentication) Result {
	var r Result
	at := spec()
	policyTargets(&r, at, ra.GetSelector(), ra.GetTargetRef(), ra.GetTargetRefs())
	for i, rule := range ra.GetJwtRules() {
		jwtRule(&r, at.Child("jwtRules").Index(i), rule)
	}
	return r
}

// policyTargets checks the selector or targetRef(s) of a security policy: one kind at most.
func policyTargets(r *Result, at *field.Path, sel *typev1beta1.WorkloadSelector, ref *typev1beta1.PolicyTargetReference, refs []*typev1beta1.PolicyTargetReference) {
	set := 0
	for _, s := range []bool{sel != nil, ref != nil, len(refs) > 0} {
		if s {
			set++
		}
	}
	if set > 1 {
		r.errorf(at, "only one of selector, targetRef and targetRefs can be set")
	}
	if sel != nil {
		checkSelectorLabels(r, at.Child("selector", "matchLabels"), sel.GetMatchLabels())
	}
	if ref != nil {
		targetRef(r, at.Child("targetRef"), ref)
	}
	for i, t := range refs {
		targetRef(r, at.Child("targetRefs").Index(i), t)
	}
}

// allowedTargets are the kinds a policy may target, by group ("" is core).
var allowedTargets = map[string][]string{
	"":                          {"Service"},
	"networking.istio.io":       {"ServiceEntry"},
	"gateway.networking.k8s.io": {"Gateway", "GatewayClass"},
}

func targetRef(r *Result, at *field.Path, t *typev1beta1.PolicyTargetReference) {
	if t.GetName() == "" {
		r.errorf(at.Child("name"), "required")
	}
	if t.GetNamespace() != "" {
		r.errorf(at.Child("namespace"), "must not be set: policies cannot target other namespaces")
	}
	group := t.GetGroup()
	if group == "core" {
		group = ""
	}
	for _, k := range allowedTargets[group] {
		if k == t.GetKind() {
			return
		}
	}
	r.errorf(at.Child("kind"), "%s/%s cannot be targeted: only Service, ServiceEntry, Gateway and GatewayClass", t.GetGroup(), t.GetKind())
}

var strictHeaderName = regexp.MustCompile(`^[-_A-Za-z0-9]+$`)

func jwtRule(r *Result, at *field.Path, rule *security.JWTRule) {
	for i, a := range rule.GetAudiences() {
		if a == "" {
			r.errorf(at.Child("audiences").Index(i), "empty audience")
		}
	}
	if rule.GetIssuer() == "" && rule.GetJwksUri() == "" {
		r.errorf(at.Child("issuer"), "an issuer or a jwksUri is required")
	}
	if u := rule.GetJwksUri(); u != "" {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Hostname() == "" {
			r.errorf(at.Child("jwksUri"), "%q is not an http or https URL", u)
		}
	}
	if j := rule.GetJwks(); j != "" {
		jwks(r, at.Child("jwks"), j)
	}
	for i, h := range rule.GetFromHeaders() {
		if h.GetName() == "" {
			r.errorf(at.Child("fromHeaders").Index(i).Child("name"), "required")
		}
	}
	for i, p := range rule.GetFromParams() {
		if p == "" {
			r.errorf(at.Child("fromParams").Index(i), "empty query parameter name")
		}
	}
	for i, c := range rule.GetFromCookies() {
		if c == "" {
			r.errorf(at.Child("fromCookies").Index(i), "empty cookie name")
		}
	}
	for i, ch := range rule.GetOutputClaimToHeaders() {
		cat := at.Child("outputClaimToHeaders").Index(i)
		switch {
		case ch.GetClaim() == "" || ch.GetHeader() == "":
			r.errorf(cat, "claim and header are required")
		case !strictHeaderName.MatchString(ch.GetHeader()):
			r.errorf(cat.Child("header"), "%q is not a header name (letters, digits, - and _)", ch.GetHeader())
		}
	}
	istioDuration(r, at.Child("timeout"), rule.GetTimeout())
}

// jwks checks an inline JSON Web Key Set: a key set or a single key, and warns about private
// key material, which verification never needs.
func jwks(r *Result, at *field.Path, s string) {
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal([]byte(s), &set); err != nil {
		r.errorf(at, "not a JSON Web Key Set: %v", err)
		return
	}
	if set.Keys == nil {
		var key map[string]any
		_ = json.Unmarshal([]byte(s), &key)
		if _, ok := key["kty"]; !ok {
			r.errorf(at, "not a JSON Web Key Set: no keys")
			return
		}
		set.Keys = []map[string]any{key}
	}
	for i, k := range set.Keys {
		if _, private := k["d"]; private || k["kty"] == "oct" {
			r.warnf(at, "key %d contains private key material; only public keys are used for verification", i)
		}
	}
}
