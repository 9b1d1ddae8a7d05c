package discovery

import (
	securityv1 "istio.io/client-go/pkg/apis/security/v1"

	"loom.dev/loom/pkg/model"
)

// convertAuthorizationPolicy takes the storage version (v1); the API server
// serves v1beta1 objects converted to it, with the same spec.
func convertAuthorizationPolicy(o *securityv1.AuthorizationPolicy) *model.AuthorizationPolicy {
	return &model.AuthorizationPolicy{Meta: meta(o), Spec: &o.Spec}
}
