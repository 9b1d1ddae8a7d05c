package translate

import (
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	security "istio.io/api/security/v1beta1"

	"loom.dev/loom/pkg/model"
)

// inboundChains summarizes virtualInbound: for each chain, its
// destination port (0 for any) and whether it terminates mutual TLS.
func inboundChains(t *testing.T, res Resources) (chains map[uint32][]bool, inspector bool) {
	t.Helper()
	chains = map[uint32][]bool{}
	for _, r := range res[resourcev3.ListenerType] {
		l := r.(*listenerv3.Listener)
		if l.Name != virtualInboundName {
			continue
		}
		for _, c := range l.GetFilterChains() {
			port := c.GetFilterChainMatch().GetDestinationPort().GetValue()
			chains[port] = append(chains[port], c.GetTransportSocket() != nil)
		}
		for _, f := range l.GetListenerFilters() {
			inspector = inspector || f.GetName() == tlsInspectorFilterName
		}
		return chains, inspector
	}
	t.Fatal("no virtualInbound listener")
	return nil, false
}

func TestSidecarInboundMTLS(t *testing.T) {
	services := []*model.Service{
		fxService("reviews", "default", "10.0.0.10", []model.Port{fxPort("http", 9080, model.ProtocolHTTP)}, "10.1.0.1"),
		fxService("reviews-metrics", "default", "10.0.0.12", []model.Port{fxPort("metrics", 9090, model.ProtocolUnknown)}, "10.1.0.1"),
		fxService("reviews-admin", "default", "10.0.0.13", []model.Port{fxPort("tcp-admin", 7000, model.ProtocolTCP)}, "10.1.0.1"),
	}
	services[0].Endpoints[0].Ports = map[string]uint32{"http": 8080}
	proxy := fxSidecarProxy("default", map[string]string{"app": "reviews"}, "10.1.0.1")
	workload := map[string]string{"app": "reviews"}
	const (
		strict     = security.PeerAuthentication_MutualTLS_STRICT
		permissive = security.PeerAuthentication_MutualTLS_PERMISSIVE
		disable    = security.PeerAuthentication_MutualTLS_DISABLE
		unset      = security.PeerAuthentication_MutualTLS_UNSET
	)
	mtls, plain := true, false
	for _, tc := range []struct {
		name          string
		in            model.Input
		want          map[uint32][]bool // chains by port, in order, TLS or not
		wantInspector bool
	}{
		{
			name: "strict",
			in: model.Input{TrustDomain: "example.org", PeerAuthentications: []*model.PeerAuthentication{
				mkPeerAuthentication("default", "default", nil, strict, nil),
			}},
			// The UNKNOWN port 9090 loses its sniffing chain: only TLS.
			want:          map[uint32][]bool{virtualInboundPort: {plain}, 8080: {mtls}, 9090: {mtls}, 7000: {mtls}, 0: {mtls}},
			wantInspector: true,
		},
		{
			name:          "disable",
			in:            model.Input{MeshMTLSMode: model.MTLSDisable},
			want:          map[uint32][]bool{virtualInboundPort: {plain}, 8080: {plain}, 9090: {plain, plain}, 7000: {plain}, 0: {plain}},
			wantInspector: false,
		},
		{
			name: "port-level",
			in: model.Input{MeshMTLSMode: model.MTLSDisable, PeerAuthentications: []*model.PeerAuthentication{
				mkPeerAuthentication("default", "reviews", workload, unset, map[uint32]security.PeerAuthentication_MutualTLS_Mode{
					8080: strict, 7000: permissive, 9999: strict,
				}),
			}},
			want: map[uint32][]bool{virtualInboundPort: {plain}, 8080: {mtls}, 9090: {plain, plain}, 7000: {mtls, plain}, 9999: {mtls}, 0: {plain}},
			// Only on 8080, 7000 and 9999.
			wantInspector: true,
		},
		{
			name: "workload-permissive-port-disable",
			in: model.Input{PeerAuthentications: []*model.PeerAuthentication{
				mkPeerAuthentication("default", "default", nil, strict, nil),
				mkPeerAuthentication("default", "reviews", workload, permissive, map[uint32]security.PeerAuthentication_MutualTLS_Mode{9090: disable}),
			}},
			want:          map[uint32][]bool{virtualInboundPort: {plain}, 8080: {mtls, plain}, 9090: {plain, plain}, 7000: {mtls, plain}, 0: {mtls, plain}},
			wantInspector: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Services = services
			snap := model.Build(tc.in)
			if len(snap.Problems()) > 0 {
				t.Fatalf("fixture problems: %v", snap.Problems())
			}
			res, problems := ForProxy(snap, proxy)
			got, inspector := inboundChains(t, res)
			if len(got) != len(tc.want) {
				t.Errorf("chains by port %v, want %v", got, tc.want)
			}
			for port, want := range tc.want {
				if g := got[port]; len(g) != len(want) || !equalBools(g, want) {
					t.Errorf("port %d: chains (TLS?) %v, want %v", port, g, want)
				}
			}
			if inspector != tc.wantInspector {
				t.Errorf("tls_inspector %v, want %v", inspector, tc.wantInspector)
			}
			assertGoldenProxy(t, "sidecar-mtls", tc.name, Resources{resourcev3.ListenerType: res[resourcev3.ListenerType]}, problems)
		})
	}
}

func equalBools(a, b []bool) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

// The bootstrap cluster every Envoy needs for mesh TLS is valid and named
// as the SDS configs refer to it.
func TestSDSCluster(t *testing.T) {
	c := SDSCluster(IstioSDSSocket)
	if c.GetName() != agentSecret(workloadCertName).GetSdsConfig().GetApiConfigSource().GetGrpcServices()[0].GetEnvoyGrpc().GetClusterName() {
		t.Errorf("cluster %q is not the one SDS configs name", c.GetName())
	}
	assertGolden(t, "mtls/sds-cluster", Resources{resourcev3.ClusterType: {c}}, nil)
}
