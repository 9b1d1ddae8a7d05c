package discovery

import (
	securityv1 "istio.io/client-go/pkg/apis/security/v1"

	"loom.dev/loom/pkg/model"
)

func convertPeerAuthentication(o *securityv1.PeerAuthentication) *model.PeerAuthentication {
	return &model.PeerAuthentication{Meta: meta(o), Spec: &o.Spec}
}
