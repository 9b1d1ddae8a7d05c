package translate

import (
	"strings"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	security "istio.io/api/security/v1beta1"
	typev1beta1 "istio.io/api/type/v1beta1"

	"loom.dev/loom/pkg/model"
)

func mkPeerAuthentication(ns, name string, selector map[string]string, mode security.PeerAuthentication_MutualTLS_Mode, ports map[uint32]security.PeerAuthentication_MutualTLS_Mode) *model.PeerAuthentication {
	spec := &security.PeerAuthentication{Mtls: &security.PeerAuthentication_MutualTLS{Mode: mode}}
	if selector != nil {
		spec.Selector = &typev1beta1.WorkloadSelector{MatchLabels: selector}
	}
	for port, m := range ports {
		if spec.PortLevelMtls == nil {
			spec.PortLevelMtls = map[uint32]*security.PeerAuthentication_MutualTLS{}
		}
		spec.PortLevelMtls[port] = &security.PeerAuthentication_MutualTLS{Mode: m}
	}
	return &model.PeerAuthentication{Meta: mkMeta(ns, name), Spec: spec}
}

// ratingsServer serves ratings (port 9090 at 10.1.1.1) and, in the
// port-level case, a second port 9091.
func ratingsServer(labels ...string) model.Proxy {
	p := model.Proxy{ID: "ratings-1", Kind: model.KindGRPC, Namespace: "default", IPs: []string{"10.1.1.1"}, Labels: map[string]string{"app": "ratings"}}
	for _, l := range labels {
		k, v, _ := strings.Cut(l, "=")
		p.Labels[k] = v
	}
	return p
}

// Proxyless gRPC servers follow Istio's grpcgen: STRICT requires mutual
// TLS, DISABLE is plaintext, PERMISSIVE is plaintext, or STRICT for a
// proxy labelled security.istio.io/tlsMode=istio; a PERMISSIVE that came
// from a PeerAuthentication is reported.
func TestGRPCServerMTLSModes(t *testing.T) {
	workload := map[string]string{"app": "ratings"}
	const (
		strict     = security.PeerAuthentication_MutualTLS_STRICT
		permissive = security.PeerAuthentication_MutualTLS_PERMISSIVE
		disable    = security.PeerAuthentication_MutualTLS_DISABLE
		unset      = security.PeerAuthentication_MutualTLS_UNSET
	)
	for _, tc := range []struct {
		name     string
		policies []*model.PeerAuthentication
		mesh     model.MTLSMode
		proxy    model.Proxy
		// wantTLS for port 9090 and 9091 unless portTLS says otherwise.
		wantTLS     bool
		portTLS     map[uint32]bool
		wantProblem string
	}{
		{name: "mesh-default-permissive", proxy: ratingsServer(), wantTLS: false},
		{name: "mesh-default-permissive-labelled", proxy: ratingsServer(model.TLSModeLabel + "=istio"), wantTLS: true},
		{name: "mesh-default-strict", mesh: model.MTLSStrict, proxy: ratingsServer(), wantTLS: true},
		{name: "namespace-strict", policies: []*model.PeerAuthentication{mkPeerAuthentication("default", "default", nil, strict, nil)},
			proxy: ratingsServer(), wantTLS: true},
		{name: "workload-disable", mesh: model.MTLSStrict, policies: []*model.PeerAuthentication{mkPeerAuthentication("default", "ratings", workload, disable, nil)},
			proxy: ratingsServer(), wantTLS: false},
		{name: "permissive-reported", policies: []*model.PeerAuthentication{mkPeerAuthentication("default", "default", nil, permissive, nil)},
			proxy: ratingsServer(), wantTLS: false, wantProblem: "PeerAuthentication default/default: spec.mtls.mode: PERMISSIVE is not possible"},
		{name: "permissive-labelled-reported", policies: []*model.PeerAuthentication{mkPeerAuthentication("default", "default", nil, permissive, nil)},
			proxy: ratingsServer(model.TLSModeLabel + "=istio"), wantTLS: true, wantProblem: "accepts mutual TLS only"},
		{name: "port-level", policies: []*model.PeerAuthentication{
			mkPeerAuthentication("default", "ratings", workload, strict, map[uint32]security.PeerAuthentication_MutualTLS_Mode{9091: disable, 9090: unset}),
		}, proxy: ratingsServer(), wantTLS: true, portTLS: map[uint32]bool{9091: false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mesh := mkMesh()
			mesh[1].Ports = append(mesh[1].Ports, mkPorts("grpc-admin:9091")...)
			snap := model.Build(model.Input{Services: mesh, PeerAuthentications: tc.policies, MeshMTLSMode: tc.mesh})
			if len(snap.Problems()) > 0 {
				t.Fatalf("fixture problems: %v", snap.Problems())
			}
			res, problems := ForProxy(snap, tc.proxy)
			servers := Resources{resourcev3.ListenerType: nil}
			for _, r := range res[resourcev3.ListenerType] {
				l := r.(*listenerv3.Listener)
				if !strings.HasPrefix(l.Name, "grpc/server") {
					continue
				}
				servers[resourcev3.ListenerType] = append(servers[resourcev3.ListenerType], l)
				port := l.GetAddress().GetSocketAddress().GetPortValue()
				want, ok := tc.portTLS[port]
				if !ok {
					want = tc.wantTLS
				}
				ts := l.GetFilterChains()[0].GetTransportSocket()
				if got := ts != nil; got != want {
					t.Errorf("listener %s: TLS %v, want %v", l.Name, got, want)
				}
				if ts != nil {
					var ctx tlsv3.DownstreamTlsContext
					if err := ts.GetTypedConfig().UnmarshalTo(&ctx); err != nil {
						t.Fatalf("listener %s: %v", l.Name, err)
					}
					if !ctx.GetRequireClientCertificate().GetValue() {
						t.Errorf("listener %s: client certificate not required", l.Name)
					}
					checkGRPCCommonTLS(t, "listener "+l.Name, ctx.GetCommonTlsContext(), true)
				}
			}
			var msgs []string
			for _, p := range problems {
				msgs = append(msgs, p.Error())
			}
			joined := strings.Join(msgs, "\n")
			if tc.wantProblem == "" && strings.Contains(joined, "PeerAuthentication") || !strings.Contains(joined, tc.wantProblem) {
				t.Errorf("problems:\n%s\nwant one containing %q", joined, tc.wantProblem)
			}
			assertGolden(t, "grpc/mtls-"+tc.name, servers, problems, resourcev3.ListenerType)
		})
	}
}
