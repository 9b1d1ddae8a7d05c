package discovery

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	policyv1alpha1 "loom.dev/loom/api/policy/v1alpha1"
	"loom.dev/loom/pkg/model"
	"loom.dev/loom/pkg/validation"
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

// convertRateLimitPolicy is the model's view of the object, converted by the function the
// validating webhook uses too.
func convertRateLimitPolicy(o *policyv1alpha1.RateLimitPolicy) *model.RateLimitPolicy {
	return &model.RateLimitPolicy{Meta: meta(o), Spec: validation.RateLimitPolicySpec(&o.Spec)}
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
