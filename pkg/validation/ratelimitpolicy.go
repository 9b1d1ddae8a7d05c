package validation

import (
	"errors"
	"fmt"
	"strings"

	sigsjson "sigs.k8s.io/json"

	policyv1alpha1 "loom.dev/loom/api/policy/v1alpha1"
	"loom.dev/loom/pkg/model"
)

// RateLimitPolicy validates a policy.loom.dev RateLimitPolicy with the control plane's own
// check (model.ValidateRateLimitPolicy), whose every error rejects the object. What a proxy
// cannot enforce (proxyless gRPC, a route name on a sidecar) depends on the proxies the policy
// selects: the control plane reports it, the webhook cannot know it.
func RateLimitPolicy(spec *policyv1alpha1.RateLimitPolicySpec) Result {
	var r Result
	m := RateLimitPolicySpec(spec)
	policyWide, byRule := model.ValidateRateLimitPolicy(m)
	for _, e := range policyWide {
		r.Errors = append(r.Errors, Finding{Field: e.Field, Message: e.Message})
	}
	for i := range m.Rules {
		for _, e := range byRule[i] {
			r.Errors = append(r.Errors, Finding{Field: e.Field, Message: e.Message})
		}
	}
	return r
}

// rateLimitPolicyJSON decodes the spec strictly, as the control plane does (an unknown or
// duplicate field is an error naming it), and validates it.
func rateLimitPolicyJSON(raw []byte) Result {
	var spec policyv1alpha1.RateLimitPolicySpec
	strict, err := sigsjson.UnmarshalStrict(raw, &spec)
	if err != nil {
		return Result{Errors: []Finding{decodeFinding(err)}}
	}
	if len(strict) > 0 {
		var r Result
		for _, e := range strict {
			r.Errors = append(r.Errors, decodeFinding(e))
		}
		return r
	}
	return RateLimitPolicy(&spec)
}

// decodeFinding names the field a JSON decoding error is about, below spec.
func decodeFinding(err error) Finding {
	var fe sigsjson.FieldError
	if errors.As(err, &fe) && fe.FieldPath() != "" {
		path := fe.FieldPath()
		if !strings.HasPrefix(path, "[") {
			path = "." + path
		}
		msg := err.Error()
		if _, after, ok := strings.Cut(msg, "json: "); ok {
			msg = after
		}
		return Finding{Field: "spec" + path, Message: msg}
	}
	return Finding{Field: "spec", Message: fmt.Sprintf("not a valid RateLimitPolicy spec: %v", err)}
}

// RateLimitPolicySpec is the API's spec as the model reads it, the conversion the control
// plane applies to every RateLimitPolicy it watches.
func RateLimitPolicySpec(in *policyv1alpha1.RateLimitPolicySpec) *model.RateLimitPolicySpec {
	spec := &model.RateLimitPolicySpec{}
	if in.Selector != nil {
		spec.Selector = in.Selector.MatchLabels
	}
	for _, ref := range in.TargetRefs {
		spec.TargetRefs = append(spec.TargetRefs, model.RateLimitTargetRef{Kind: ref.Kind, Name: ref.Name})
	}
	spec.Rules = make([]model.RateLimitRule, 0, len(in.Rules))
	for _, r := range in.Rules {
		rule := model.RateLimitRule{Limit: model.RateLimitLimit{Requests: int64(r.Limit.Requests), Unit: model.RateLimitUnit(r.Limit.Unit)}}
		if r.Limit.Burst != nil {
			rule.Limit.Burst = int64(*r.Limit.Burst)
		}
		if m := r.Match; m != nil {
			rule.Match = &model.RateLimitMatch{RouteName: m.RouteName, Method: m.Method}
			if m.Path != nil {
				rule.Match.Path = &model.StringMatch{Exact: m.Path.Exact, Prefix: m.Path.Prefix}
			}
			for _, h := range m.Headers {
				rule.Match.Headers = append(rule.Match.Headers, model.RateLimitHeaderMatch{Name: h.Name, StringMatch: model.StringMatch{Exact: h.Exact, Prefix: h.Prefix}})
			}
		}
		if c := r.PerClient; c != nil {
			rule.PerClient = &model.RateLimitClient{SourcePrincipal: c.SourcePrincipal, Header: c.Header}
		}
		if resp := r.Response; resp != nil {
			rule.Response.Status = int(resp.Status)
			for _, h := range resp.Headers {
				rule.Response.Headers = append(rule.Response.Headers, model.HeaderValue{Name: h.Name, Value: h.Value})
			}
		}
		spec.Rules = append(spec.Rules, rule)
	}
	return spec
}
