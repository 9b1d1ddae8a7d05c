package translate

import (
	"strings"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"loom.dev/loom/pkg/model"
)

// authzMesh: httpbin in foo serves HTTP on 8000 and TCP on 9000 at
// 10.0.0.1; an ingress gateway serves HTTP on 80.
func authzMesh(t *testing.T, policies ...*model.AuthorizationPolicy) *model.Snapshot {
	svc := fxService("httpbin", "foo", "10.96.0.1", []model.Port{fxPort("http", 8000, model.ProtocolHTTP), fxPort("tcp", 9000, model.ProtocolTCP)}, "10.0.0.1")
	svc.Selector = workloadLabels
	return model.Build(model.Input{
		RootNamespace:         "istio-system",
		Services:              []*model.Service{svc},
		Gateways:              []*model.Gateway{fxGateway("gw", "istio-system", 0, fxServer(80, "HTTP", "http", nil, "*"))},
		AuthorizationPolicies: policies,
		// httpbin is its own authorizer: its ports give the clusters.
		ExtensionProviders: extAuthzProviders(t, `
extensionProviders:
- {name: grpc-authz, envoyExtAuthzGrpc: {service: httpbin.foo.svc.cluster.local, port: 9000}}
- {name: http-authz, envoyExtAuthzHttp: {service: httpbin.foo.svc.cluster.local, port: 8000}}`),
	})
}

// chainFilters lists, per filter chain of every listener, the names of its
// network filters and of its HCM's HTTP filters.
func chainFilters(t *testing.T, res Resources) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, r := range res[resourcev3.ListenerType] {
		l := r.(*listenerv3.Listener)
		for _, c := range l.GetFilterChains() {
			key := l.GetName() + "/" + c.GetName()
			for _, f := range c.GetFilters() {
				out[key] = append(out[key], f.GetName())
				if f.GetName() != hcmFilterName {
					continue
				}
				var hcm hcmv3.HttpConnectionManager
				if err := f.GetTypedConfig().UnmarshalTo(&hcm); err != nil {
					t.Fatal(err)
				}
				for _, hf := range hcm.GetHttpFilters() {
					out[key] = append(out[key], "http:"+hf.GetName())
				}
			}
		}
	}
	return out
}

// Every chain of every inbound context is guarded, RBAC first; the
// 15006 loop guard and outbound chains are not.
func TestAuthzFiltersAreInserted(t *testing.T) {
	deny := mkAP(t, "istio-system", "deny-evil", "action: DENY\nrules: [{from: [{source: {namespaces: [evil]}}]}]")
	snap := authzMesh(t, deny)
	proxies := []model.Proxy{
		fxSidecarProxy("foo", workloadLabels, "10.0.0.1"),
		{ID: "grpc~foo", Kind: model.KindGRPC, Namespace: "foo", Labels: workloadLabels, IPs: []string{"10.0.0.1"}},
		fxGatewayProxy(),
	}
	for _, p := range proxies {
		t.Run(string(p.Kind), func(t *testing.T) {
			res, _ := ForProxy(snap, p)
			validateAll(t, res)
			guarded := 0
			for chain, filters := range chainFilters(t, res) {
				inbound := p.Kind != model.KindSidecar || strings.HasPrefix(chain, virtualInboundName+"/") && !strings.Contains(chain, "blackhole")
				if !inbound {
					if strings.Contains(strings.Join(filters, ","), "rbac") {
						t.Errorf("%s: outbound chain has RBAC: %v", chain, filters)
					}
					continue
				}
				guarded++
				if strings.Contains(filters[0], "hcm") || filters[0] == hcmFilterName {
					if filters[1] != "http:"+rbacHTTPFilterName+".deny" || filters[len(filters)-1] != "http:"+routerFilterName {
						t.Errorf("%s: HTTP filters %v, want RBAC first and the router last", chain, filters)
					}
					continue
				}
				if filters[0] != rbacNetworkFilterName+".deny" {
					t.Errorf("%s: filters %v, want network RBAC first", chain, filters)
				}
			}
			if guarded == 0 {
				t.Error("no inbound chain found")
			}
		})
	}
}
