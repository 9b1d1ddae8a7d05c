package translate

import (
	"testing"

	security "istio.io/api/security/v1beta1"

	"loom.dev/loom/pkg/model"
)

// A PeerAuthentication has no effect on gateways (as in Istio): one whose
// selector picks a gateway is reported; a namespace-wide one is not, as it
// is meant for the namespace's sidecars.
func TestPeerAuthenticationSelectingGatewayIsReported(t *testing.T) {
	gw := fxGatewayProxy()
	snap := model.Build(model.Input{
		Services: gwServices(),
		Gateways: []*model.Gateway{fxGateway("ingress", "istio-system", 0, fxServer(80, "HTTP", "http", nil, "*"))},
		PeerAuthentications: []*model.PeerAuthentication{
			mkPeerAuthentication("istio-system", "gateway-strict", gw.Labels, security.PeerAuthentication_MutualTLS_STRICT, nil),
			mkPeerAuthentication("istio-system", "namespace", nil, security.PeerAuthentication_MutualTLS_STRICT, nil),
		},
	})
	_, problems := ForProxy(snap, gw)
	if !hasProblem(problems, model.KindPeerAuthentication, "istio-system/gateway-strict", "spec.selector") {
		t.Errorf("no problem on the policy selecting the gateway: %v", problems)
	}
	if hasProblem(problems, model.KindPeerAuthentication, "istio-system/namespace", "spec.selector") {
		t.Errorf("the namespace-wide policy is reported: %v", problems)
	}
}
