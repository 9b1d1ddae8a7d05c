package discovery

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	policyv1alpha1 "loom.dev/loom/api/policy/v1alpha1"
	"loom.dev/loom/pkg/model"
)

// rateLimitPolicyKind watches Loom's own RateLimitPolicy like the Istio
// kinds: its CRD is installed with theirs (pkg/loomcrds).
func rateLimitPolicyKind() istioKind {
	k := enforcedKindOf(policyv1alpha1.GroupVersion, "RateLimitPolicy", "ratelimitpolicies", func(in *model.Input, o *policyv1alpha1.RateLimitPolicy) {
		in.RateLimitPolicies = append(in.RateLimitPolicies, convertRateLimitPolicy(o))
	})
	k.decode = decodeRateLimitPolicy
	return k
}

func convertRateLimitPolicy(o *policyv1alpha1.RateLimitPolicy) *model.RateLimitPolicy {
	in := o.Spec
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
	return &model.RateLimitPolicy{Meta: meta(o), Spec: spec}
}

// rateLimitDecoder decodes policy.loom.dev objects strictly.
var rateLimitDecoder = func() runtime.Decoder {
	s := runtime.NewScheme()
	if err := policyv1alpha1.AddToScheme(s); err != nil {
		panic(err) // the registration cannot fail
	}
	return serializer.NewCodecFactory(s, serializer.EnableStrict).UniversalDeserializer()
}()

// decodeRateLimitPolicy is decodeIstio for RateLimitPolicy objects.
var decodeRateLimitPolicy = decodingWith(rateLimitDecoder)
