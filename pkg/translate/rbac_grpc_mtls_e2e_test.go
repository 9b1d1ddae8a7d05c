package translate

import (
	"strconv"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"loom.dev/loom/pkg/model"
)

// Over mutual TLS, a real gRPC-Go xDS server matches principals and
// namespaces against the client certificate's SPIFFE id: an ALLOW by
// principal lets the named account in and no other, a DENY by namespace
// stops the named namespace.
func TestGRPCServerAuthorizesPeerIdentity(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gRPC servers")
	}
	ca := newTestCA(t)
	xs := startXDSServer(t)
	echo, strict, port := strictMeshedEcho(t)
	snap := model.Build(model.Input{
		Services:            []*model.Service{echo},
		PeerAuthentications: []*model.PeerAuthentication{strict},
		AuthorizationPolicies: []*model.AuthorizationPolicy{
			mkAP(t, "default", "allow-client", `{selector: {matchLabels: {app: echo}}, rules: [{from: [{source: {principals: ["cluster.local/ns/default/sa/client", "cluster.local/ns/evil/sa/client"]}}]}]}`),
			mkAP(t, "default", "deny-evil", `{action: DENY, rules: [{from: [{source: {namespaces: [evil]}}]}]}`),
		},
	})
	xs.serve(t, snap, model.Proxy{ID: "echo-1", Kind: model.KindGRPC, Namespace: "default", IPs: []string{"127.0.0.1"}, Labels: map[string]string{"app": "echo"}})
	for _, id := range []string{"client-default", "client-evil", "intruder"} {
		xs.serve(t, snap, model.Proxy{ID: id, Kind: model.KindGRPC, Namespace: "default"})
	}
	startMTLSBackend(t, mtlsBootstrap(t, xs, "echo-1", ca.issue(t, model.SpiffeID(model.DefaultTrustDomain, "default", "echo"))), "127.0.0.1:"+strconv.Itoa(int(port)))

	for _, tc := range []struct {
		node, ns, sa string
		want         codes.Code
	}{
		{"client-default", "default", "client", codes.OK},
		{"client-evil", "evil", "client", codes.PermissionDenied},
		{"intruder", "default", "intruder", codes.PermissionDenied},
	} {
		t.Run(tc.node, func(t *testing.T) {
			conn := dialEchoXDS(t, xs, tc.node, ca.issue(t, model.SpiffeID(model.DefaultTrustDomain, tc.ns, tc.sa)))
			if _, err := mtlsCall(t, conn, true); status.Code(err) != tc.want {
				t.Errorf("%s/%s: %v, want %v", tc.ns, tc.sa, err, tc.want)
			}
		})
	}
	xs.checkNoNACK(t)
}
