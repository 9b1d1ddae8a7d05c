package translate

import (
	"strings"
	"testing"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tracev3 "github.com/envoyproxy/go-control-plane/envoy/config/trace/v3"
	filev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"

	"loom.dev/loom/pkg/model"
)

var (
	telTextLog = &model.AccessLog{Path: "/dev/stdout", Encoding: model.AccessLogText}
	telJSONLog = &model.AccessLog{Path: "/var/log/envoy/access.log", Encoding: model.AccessLogJSON}
	telZipkin  = &model.Tracing{SamplingPercentage: 2.5, CollectorHost: "jaeger-collector.loom-system.svc", CollectorPort: 9411}
)

// telMesh has HTTP and TCP ports, inbound and outbound, for the sidecar
// and an HTTP server for the gateway.
func telMesh(t model.Telemetry) model.Input {
	services := append(scBookinfo(),
		fxService("productpage", "default", "10.0.0.9", []model.Port{fxPort("http", 9080, model.ProtocolHTTP), fxPort("tcp-admin", 7000, model.ProtocolTCP)}, "10.1.0.9"))
	return model.Input{
		Services:        services,
		Telemetry:       t,
		Gateways:        []*model.Gateway{fxGateway("ingress", "istio-system", 0, fxServer(80, "HTTP", "http", nil, "bookinfo.example.com"))},
		VirtualServices: []*model.VirtualService{gwBookinfo(1, "bookinfo.example.com")},
	}
}

func TestTelemetryGolden(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tel   model.Telemetry
		proxy model.Proxy
	}{
		{"sidecar-access-log-text", model.Telemetry{AccessLog: telTextLog}, scProductpage},
		{"sidecar-access-log-json", model.Telemetry{AccessLog: telJSONLog}, scProductpage},
		{"sidecar-tracing", model.Telemetry{Tracing: telZipkin}, scProductpage},
		{"gateway-access-log-and-tracing", model.Telemetry{AccessLog: telTextLog, Tracing: telZipkin}, fxGatewayProxy()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, problems := ForProxy(model.Build(telMesh(tc.tel)), tc.proxy)
			assertGoldenProxy(t, "telemetry", tc.name, res, problems)
		})
	}
}

// Every connection manager and TCP proxy logs; every connection manager
// traces to the collector cluster, which is sent and valid.
func TestTelemetryReachesEveryFilter(t *testing.T) {
	tel := model.Telemetry{AccessLog: telJSONLog, Tracing: telZipkin}
	for _, proxy := range []model.Proxy{scProductpage, fxGatewayProxy()} {
		res, _ := ForProxy(model.Build(telMesh(tel)), proxy)
		validateAll(t, res)
		hcms, tcps := 0, 0
		for _, f := range telNetworkFilters(res) {
			switch f.GetName() {
			case hcmFilterName:
				hcms++
				var m hcmv3.HttpConnectionManager
				if err := f.GetTypedConfig().UnmarshalTo(&m); err != nil {
					t.Fatal(err)
				}
				telCheckAccessLog(t, proxy.ID, m.GetAccessLog())
				var z tracev3.ZipkinConfig
				if err := m.GetTracing().GetProvider().GetTypedConfig().UnmarshalTo(&z); err != nil {
					t.Fatalf("%s: HCM tracing provider: %v", proxy.ID, err)
				}
				if m.GetTracing().GetProvider().GetName() != zipkinTracerName || z.GetCollectorCluster() != "outbound|9411||jaeger-collector.loom-system.svc" ||
					z.GetCollectorEndpoint() != "/api/v2/spans" || z.GetSharedSpanContext().GetValue() || m.GetTracing().GetRandomSampling().GetValue() != 2.5 {
					t.Errorf("%s: tracing %v, zipkin %v", proxy.ID, m.GetTracing(), &z)
				}
			case tcpProxyFilterName:
				tcps++
				var m tcpv3.TcpProxy
				if err := f.GetTypedConfig().UnmarshalTo(&m); err != nil {
					t.Fatal(err)
				}
				telCheckAccessLog(t, proxy.ID, m.GetAccessLog())
			}
		}
		if hcms == 0 || (proxy.Kind == model.KindSidecar && tcps == 0) {
			t.Fatalf("%s: %d connection managers and %d TCP proxies; the fixture must have both", proxy.ID, hcms, tcps)
		}
		var collector *clusterv3.Cluster
		for _, r := range res[resourcev3.ClusterType] {
			if c := r.(*clusterv3.Cluster); c.GetName() == "outbound|9411||jaeger-collector.loom-system.svc" {
				collector = c
			}
		}
		if collector == nil || collector.GetType() != clusterv3.Cluster_STRICT_DNS ||
			collector.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress().GetPortValue() != 9411 {
			t.Errorf("%s: collector cluster %v", proxy.ID, collector)
		}
	}
}

func telCheckAccessLog(t *testing.T, proxy string, logs []*accesslogv3.AccessLog) {
	t.Helper()
	if len(logs) != 1 || logs[0].GetName() != fileAccessLogName {
		t.Fatalf("%s: access logs %v, want one file logger", proxy, logs)
	}
	var file filev3.FileAccessLog
	if err := logs[0].GetTypedConfig().UnmarshalTo(&file); err != nil {
		t.Fatal(err)
	}
	fields := file.GetLogFormat().GetJsonFormat().GetFields()
	if file.GetPath() != telJSONLog.Path || fields["upstream_cluster"].GetStringValue() != "%UPSTREAM_CLUSTER%" || len(fields) != len(istioJSONLogFields) {
		t.Errorf("%s: file access log %v", proxy, &file)
	}
}

func telNetworkFilters(res Resources) []*listenerv3.Filter {
	var out []*listenerv3.Filter
	for _, r := range res[resourcev3.ListenerType] {
		l := r.(*listenerv3.Listener)
		chains := l.GetFilterChains()
		if l.GetDefaultFilterChain() != nil {
			chains = append(chains, l.GetDefaultFilterChain())
		}
		for _, fc := range chains {
			out = append(out, fc.GetFilters()...)
		}
	}
	return out
}

// Off, or tracing with no collector, changes no byte; proxyless gRPC gets
// nothing either, and the snapshot says why.
func TestTelemetryLeavesOthersAlone(t *testing.T) {
	grpcProxy := model.Proxy{ID: "grpc~default", Kind: model.KindGRPC, Namespace: "default", IPs: []string{"10.1.0.9"}}
	for _, tc := range []struct {
		name  string
		tel   model.Telemetry
		proxy model.Proxy
	}{
		{"tracing without a collector", model.Telemetry{Tracing: &model.Tracing{SamplingPercentage: 1}}, scProductpage},
		{"proxyless gRPC", model.Telemetry{AccessLog: telTextLog, Tracing: telZipkin}, grpcProxy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, _ := ForProxy(model.Build(telMesh(model.Telemetry{})), tc.proxy)
			got, _ := ForProxy(model.Build(telMesh(tc.tel)), tc.proxy)
			for typeURL := range want {
				if len(want[typeURL]) != len(got[typeURL]) {
					t.Fatalf("%s: %d resources, want %d", typeURL, len(got[typeURL]), len(want[typeURL]))
				}
				for i := range want[typeURL] {
					if !proto.Equal(want[typeURL][i], got[typeURL][i]) {
						t.Errorf("%s %d differs with telemetry %+v", typeURL, i, tc.tel)
					}
				}
			}
		})
	}
	var said []string
	for _, p := range model.Build(telMesh(model.Telemetry{AccessLog: telTextLog, Tracing: telZipkin})).Problems() {
		said = append(said, p.Error())
	}
	all := strings.Join(said, "\n")
	for _, field := range []string{"spec.meshConfig.accessLogging", "spec.meshConfig.tracing"} {
		if !strings.Contains(all, field+": proxyless gRPC") {
			t.Errorf("problems %q do not say that %s does not reach proxyless gRPC", all, field)
		}
	}
	if ps := model.Build(telMesh(model.Telemetry{})).Problems(); len(ps) != 0 {
		t.Errorf("telemetry off: problems %v", ps)
	}
}
