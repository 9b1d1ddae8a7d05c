package values

import (
	"testing"

	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3" // resolves the Any in the stats listener
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"loom.dev/loom/internal/agent"
	"loom.dev/loom/pkg/render"
)

// TestGatewayBootstrapExportsTaggedStats: a gateway's Envoy serves its
// Prometheus stats on 15090 from the admin port, and tags them with the
// sidecar's stats_config, so envoy_cluster_name holds the whole cluster
// name on gateways too (agent's tests apply the regex to gateway names).
func TestGatewayBootstrapExportsTaggedStats(t *testing.T) {
	for _, profile := range []string{"demo", "production"} {
		mesh := sample(t, profile)
		for i := range mesh.Spec.Gateways {
			gw := &mesh.Spec.Gateways[i]
			where := profile + "/" + gw.Name
			vals, err := Gateway(&mesh.Spec, gw)
			objs := renderChart(t, render.Gateway, GatewayNamespace(&mesh.Spec, gw), vals, err)
			envoyYAML, _, _ := unstructured.NestedString(find(objs, "ConfigMap").Object, "data", "envoy.yaml")
			b := parseBootstrap(t, envoyYAML)
			if !proto.Equal(b.GetStatsConfig(), agent.StatsConfig()) {
				t.Errorf("%s: stats_config %v\nwant the sidecar's %v", where, b.GetStatsConfig(), agent.StatsConfig())
			}
			adminPort := b.GetAdmin().GetAddress().GetSocketAddress().GetPortValue()
			var statsCluster string
			for _, l := range b.GetStaticResources().GetListeners() {
				if l.GetAddress().GetSocketAddress().GetPortValue() != agent.PrometheusPort {
					continue
				}
				f := l.GetFilterChains()[0].GetFilters()[0]
				validateAny(t, where+" listener "+l.GetName(), f.GetTypedConfig())
				hcm := &hcmv3.HttpConnectionManager{}
				if err := f.GetTypedConfig().UnmarshalTo(hcm); err != nil {
					t.Fatal(err)
				}
				for _, hf := range hcm.GetHttpFilters() {
					validateAny(t, where+" listener "+l.GetName()+" filter "+hf.GetName(), hf.GetTypedConfig())
				}
				r := hcm.GetRouteConfig().GetVirtualHosts()[0].GetRoutes()[0]
				if r.GetMatch().GetPrefix() == "/stats/prometheus" {
					statsCluster = r.GetRoute().GetCluster()
				}
			}
			if statsCluster == "" {
				t.Fatalf("%s: no listener on %d routes /stats/prometheus", where, agent.PrometheusPort)
			}
			for _, c := range b.GetStaticResources().GetClusters() {
				if c.GetName() != statsCluster {
					continue
				}
				a := c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress()
				if a.GetAddress() != "127.0.0.1" || a.GetPortValue() != adminPort {
					t.Errorf("%s: cluster %s reaches %v, want the admin port 127.0.0.1:%d", where, statsCluster, a, adminPort)
				}
				statsCluster = ""
			}
			if statsCluster != "" {
				t.Errorf("%s: /stats/prometheus routes to missing cluster %s", where, statsCluster)
			}
		}
	}
}
