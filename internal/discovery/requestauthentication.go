package discovery

import (
	securityv1 "istio.io/client-go/pkg/apis/security/v1"

	"loom.dev/loom/pkg/model"
)

// convertRequestAuthentication takes the storage version (v1); the API
// server serves v1beta1 objects converted to it, with the same spec.
func convertRequestAuthentication(o *securityv1.RequestAuthentication) *model.RequestAuthentication {
	return &model.RequestAuthentication{Meta: meta(o), Spec: &o.Spec}
}
