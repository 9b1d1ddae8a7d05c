package translate

import (
	"slices"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	security "istio.io/api/security/v1beta1"

	"loom.dev/loom/pkg/model"
)

// meshedEndpoint is a pod endpoint of service account sa; meshed pods
// carry Istio's tlsMode label.
func meshedEndpoint(addr, sa string, meshed bool, labels ...string) *model.Endpoint {
	if meshed {
		labels = append(labels, model.TLSModeLabel+"="+model.TLSModeIstio)
	}
	ep := mkEndpoint(addr, labels...)
	ep.ServiceAccount = sa
	return ep
}

// mtlsClusters translates the clusters of a reviews service with the
// given endpoints, optional DestinationRule and PeerAuthentications.
func mtlsClusters(t *testing.T, proxy model.Proxy, in model.Input, eps []*model.Endpoint, dr string) (Resources, []model.Problem) {
	t.Helper()
	in.Services = []*model.Service{mkService("reviews", "default", mkPorts("http:9080"), eps...)}
	return clustersOfReviews(t, proxy, in, dr)
}

func upstreamTLS(t *testing.T, c *clusterv3.Cluster) *tlsv3.UpstreamTlsContext {
	t.Helper()
	ts := c.GetTransportSocket()
	if ts == nil {
		return nil
	}
	var ctx tlsv3.UpstreamTlsContext
	if err := ts.GetTypedConfig().UnmarshalTo(&ctx); err != nil {
		t.Fatalf("cluster %s: %v", c.Name, err)
	}
	return &ctx
}

func nsPolicy(ns string, mode security.PeerAuthentication_MutualTLS_Mode) *model.PeerAuthentication {
	return &model.PeerAuthentication{Meta: mkMeta(ns, "default"), Spec: &security.PeerAuthentication{Mtls: &security.PeerAuthentication_MutualTLS{Mode: mode}}}
}

var twoAccounts = []string{"spiffe://example.org/ns/default/sa/reviews", "spiffe://example.org/ns/default/sa/reviews-v2"}

func TestIstioMutualOriginatesMeshTLS(t *testing.T) {
	eps := []*model.Endpoint{
		meshedEndpoint("10.1.0.1", "reviews", true), meshedEndpoint("10.1.0.2", "reviews-v2", true), meshedEndpoint("10.1.0.3", "reviews", false),
	}
	in := model.Input{TrustDomain: "example.org"}
	for _, tc := range []struct {
		name     string
		proxy    model.Proxy
		dr       string
		wantSANs []string
		wantSNI  string
	}{
		{"sidecar", sidecarProxy, `{host: reviews, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}`, twoAccounts, "outbound_.9080_._.reviews.default.svc.cluster.local"},
		{"sidecar, rule's SANs and SNI", sidecarProxy, `{host: reviews, trafficPolicy: {tls: {mode: ISTIO_MUTUAL, sni: r.example, subjectAltNames: ["spiffe://x/y"]}}}`, []string{"spiffe://x/y"}, "r.example"},
		{"grpc", grpcClient, `{host: reviews, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}`, twoAccounts, ""},
		{"grpc, rule's SANs", grpcClient, `{host: reviews, trafficPolicy: {tls: {mode: ISTIO_MUTUAL, subjectAltNames: ["spiffe://x/y"]}}}`, []string{"spiffe://x/y"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, problems := mtlsClusters(t, tc.proxy, in, eps, tc.dr)
			if len(problems) > 0 {
				t.Errorf("problems: %v", problems)
			}
			c := res[resourcev3.ClusterType][0].(*clusterv3.Cluster)
			ctx := upstreamTLS(t, c)
			if tc.proxy.Kind == model.KindGRPC && ctx != nil && ctx.GetCommonTlsContext().GetTlsCertificateProviderInstance() == nil {
				t.Errorf("gRPC cluster without the certificate provider")
			}
			if ctx == nil {
				t.Fatalf("cluster %s: no TLS", c.Name)
			}
			if ctx.GetSni() != tc.wantSNI {
				t.Errorf("SNI %q, want %q", ctx.GetSni(), tc.wantSNI)
			}
			var sans []string
			if tc.proxy.Kind == model.KindGRPC {
				checkGRPCClusters(t, res)
				for _, m := range ctx.GetCommonTlsContext().GetValidationContext().GetMatchSubjectAltNames() { //nolint:staticcheck // the field gRPC reads
					sans = append(sans, m.GetExact())
				}
			} else {
				common := ctx.GetCommonTlsContext()
				if sds := common.GetTlsCertificateSdsSecretConfigs(); len(sds) != 1 || sds[0].GetName() != "default" ||
					sds[0].GetSdsConfig().GetApiConfigSource().GetGrpcServices()[0].GetEnvoyGrpc().GetClusterName() != SDSClusterName {
					t.Errorf("certificate SDS = %v, want secret default from %s", sds, SDSClusterName)
				}
				combined := common.GetCombinedValidationContext()
				if combined.GetValidationContextSdsSecretConfig().GetName() != "ROOTCA" {
					t.Errorf("root SDS = %v, want ROOTCA", combined.GetValidationContextSdsSecretConfig())
				}
				for _, m := range combined.GetDefaultValidationContext().GetMatchTypedSubjectAltNames() {
					if m.GetSanType() != tlsv3.SubjectAltNameMatcher_URI {
						t.Errorf("SAN type %v, want URI", m.GetSanType())
					}
					sans = append(sans, m.GetMatcher().GetExact())
				}
			}
			if !slices.Equal(sans, tc.wantSANs) {
				t.Errorf("SANs %v, want %v", sans, tc.wantSANs)
			}
		})
	}
}

// Auto mTLS: without DestinationRule TLS, mutual TLS goes to endpoints
// that run a mesh proxy, unless the destination's namespace disables it.
func TestAutoMTLS(t *testing.T) {
	meshed := []*model.Endpoint{meshedEndpoint("10.1.0.1", "reviews", true), meshedEndpoint("10.1.0.2", "reviews", true)}
	mixed := []*model.Endpoint{meshedEndpoint("10.1.0.1", "reviews", true), meshedEndpoint("10.1.0.2", "legacy", false)}
	plain := []*model.Endpoint{meshedEndpoint("10.1.0.1", "reviews", false)}
	disabled := model.Input{PeerAuthentications: []*model.PeerAuthentication{nsPolicy("default", security.PeerAuthentication_MutualTLS_DISABLE)}}
	for _, tc := range []struct {
		name  string
		proxy model.Proxy
		in    model.Input
		eps   []*model.Endpoint
		dr    string
		// want: "socket" (one TLS transport socket), "matches" (auto
		// mTLS per endpoint), "" (plaintext).
		want        string
		wantProblem bool
	}{
		{name: "sidecar, meshed", proxy: sidecarProxy, eps: meshed, want: "matches"},
		{name: "sidecar, mixed", proxy: sidecarProxy, eps: mixed, want: "matches"},
		{name: "sidecar, none meshed", proxy: sidecarProxy, eps: plain},
		{name: "sidecar, namespace DISABLE", proxy: sidecarProxy, in: disabled, eps: meshed},
		{name: "sidecar, mesh default DISABLE", proxy: sidecarProxy, in: model.Input{MeshMTLSMode: model.MTLSDisable}, eps: meshed},
		{name: "sidecar, rule says DISABLE", proxy: sidecarProxy, eps: meshed, dr: `{host: reviews, trafficPolicy: {tls: {mode: DISABLE}}}`},
		{name: "sidecar, headless all meshed", proxy: sidecarProxy, eps: meshed, dr: `{host: reviews, trafficPolicy: {loadBalancer: {simple: PASSTHROUGH}}}`, want: "socket"},
		{name: "sidecar, headless mixed", proxy: sidecarProxy, eps: mixed, dr: `{host: reviews, trafficPolicy: {loadBalancer: {simple: PASSTHROUGH}}}`},
		{name: "grpc, meshed", proxy: grpcClient, eps: meshed, want: "socket"},
		{name: "grpc, not meshed", proxy: grpcClient, eps: plain},
		{name: "grpc, mixed", proxy: grpcClient, eps: mixed, wantProblem: true},
		{name: "grpc, namespace DISABLE", proxy: grpcClient, in: disabled, eps: meshed},
		{name: "grpc, rule says DISABLE", proxy: grpcClient, eps: meshed, dr: `{host: reviews, trafficPolicy: {tls: {mode: DISABLE}}}`},
		{name: "grpc, STRICT namespace", proxy: grpcClient, in: model.Input{PeerAuthentications: []*model.PeerAuthentication{nsPolicy("default", security.PeerAuthentication_MutualTLS_STRICT)}}, eps: meshed, want: "socket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, problems := mtlsClusters(t, tc.proxy, tc.in, tc.eps, tc.dr)
			if got := len(problems) > 0; got != tc.wantProblem {
				t.Errorf("problems %v, want some: %v", problems, tc.wantProblem)
			}
			c := res[resourcev3.ClusterType][0].(*clusterv3.Cluster)
			got := ""
			switch {
			case c.GetTransportSocket() != nil && len(c.GetTransportSocketMatches()) == 0:
				got = "socket"
			case c.GetTransportSocket() == nil && len(c.GetTransportSocketMatches()) == 2:
				got = "matches"
			case c.GetTransportSocket() != nil || len(c.GetTransportSocketMatches()) > 0:
				got = "both"
			}
			if got != tc.want {
				t.Errorf("cluster %s TLS = %q, want %q", c.Name, got, tc.want)
			}
			if tc.proxy.Kind == model.KindGRPC {
				checkGRPCClusters(t, res)
			}
			validateAll(t, res)
		})
	}
}

// Envoy endpoints that run a mesh proxy carry the metadata auto mTLS
// matches on; the others none.
func TestEndpointsCarryTLSModeMetadata(t *testing.T) {
	mixed := []*model.Endpoint{meshedEndpoint("10.1.0.1", "reviews", true), meshedEndpoint("10.1.0.2", "legacy", false)}
	res, _ := mtlsClusters(t, sidecarProxy, model.Input{}, mixed, "")
	assertGolden(t, "mtls/auto-sidecar", res, nil)
	res, problems := mtlsClusters(t, grpcClient, model.Input{}, mixed, "")
	assertGolden(t, "mtls/auto-grpc-mixed", res, problems)
}

func TestGRPCIstioMutualSNIIsReported(t *testing.T) {
	eps := []*model.Endpoint{meshedEndpoint("10.1.0.1", "reviews", true)}
	res, problems := mtlsClusters(t, grpcClient, model.Input{}, eps, `{host: reviews, trafficPolicy: {tls: {mode: ISTIO_MUTUAL, sni: r.example}}}`)
	if !hasProblem(problems, kindDestinationRule, "default/reviews", "spec.trafficPolicy.tls.sni") {
		t.Errorf("problems %v, want the ignored sni reported", problems)
	}
	if upstreamTLS(t, res[resourcev3.ClusterType][0].(*clusterv3.Cluster)) == nil {
		t.Error("the cluster lost its TLS")
	}
}
