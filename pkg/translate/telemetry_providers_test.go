package translate

import (
	"encoding/json"
	"strings"
	"testing"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	tracev3 "github.com/envoyproxy/go-control-plane/envoy/config/trace/v3"
	otelalsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/open_telemetry/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/wrapperspb"
	networking "istio.io/api/networking/v1alpha3"
	telemetry "istio.io/api/telemetry/v1alpha1"

	"loom.dev/loom/pkg/model"
)

// telProviders are telemetry extension providers as Istio's docs write
// them, plus unusable ones.
var telProviders = []string{
	`{"name": "file-json", "envoyFileAccessLog": {"path": "/var/log/access.json", "logFormat": {"labels": {"method": "%REQ(:METHOD)%", "path": "%REQ_WITHOUT_QUERY(:PATH)%", "code": "%RESPONSE_CODE%"}}}}`,
	`{"name": "file-text", "envoyFileAccessLog": {"logFormat": {"text": "%START_TIME% %REQ(:METHOD)% %RESPONSE_CODE%"}}}`,
	`{"name": "otel-als", "envoyOtelAls": {"service": "observability/otel-collector.observability.svc.cluster.local", "port": 4317, "logName": "loom", "logFormat": {"text": "%REQ(:METHOD)% %RESPONSE_CODE%", "labels": {"peer": "%DOWNSTREAM_REMOTE_ADDRESS%", "route": "%ROUTE_NAME%"}}}}`,
	`{"name": "otel", "opentelemetry": {"service": "otel-collector.observability.svc.cluster.local", "port": 4317, "maxTagLength": 99, "resourceDetectors": {"environment": {}}}}`,
	`{"name": "zipkin-w3c", "zipkin": {"service": "otel-collector.observability.svc.cluster.local", "port": 9411, "path": "/zipkin/spans", "maxTagLength": 64, "traceContextOption": "USE_B3_WITH_W3C_PROPAGATION", "enable64bitTraceId": true}}`,
	`{"name": "otel-nowhere", "opentelemetry": {"service": "nowhere.observability.svc.cluster.local", "port": 4317}}`,
	`{"name": "otel-wrong-port", "envoyOtelAls": {"service": "otel-collector.observability.svc.cluster.local", "port": 4318}}`,
	`{"name": "otel-tcp", "opentelemetry": {"service": "otel-collector.observability.svc.cluster.local", "port": 5000}}`,
	`{"name": "otel-wrong-ns", "envoyOtelAls": {"service": "default/otel-collector.observability.svc.cluster.local", "port": 4317}}`,
}

func telExtensionProviders(t testing.TB) []*model.ExtensionProvider {
	t.Helper()
	var out []*model.ExtensionProvider
	for _, js := range telProviders {
		var ep model.ExtensionProvider
		if err := protojson.Unmarshal([]byte(js), &ep); err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		out = append(out, &ep)
	}
	return out
}

// telProviderMesh is telMesh with an OpenTelemetry collector (OTLP/gRPC,
// Zipkin and a TCP port) and the extension providers.
func telProviderMesh(t testing.TB, mesh model.Telemetry, policies ...*model.TelemetryPolicy) model.Input {
	in := telMesh(mesh)
	in.RootNamespace = "istio-system"
	in.Services = append(in.Services, fxService("otel-collector", "observability", "10.0.0.40", []model.Port{
		fxPort("grpc-otlp", 4317, model.ProtocolGRPC), fxPort("http-zipkin", 9411, model.ProtocolHTTP), fxPort("tcp-raw", 5000, model.ProtocolTCP)}, "10.1.4.1"))
	in.ExtensionProviders = telExtensionProviders(t)
	in.Telemetries = policies
	return in
}

func telMeshWide(spec *telemetry.Telemetry) *model.TelemetryPolicy {
	return telAPIPolicy("istio-system", "mesh-default", 0, spec)
}

func telLogTo(names ...string) *telemetry.Telemetry {
	var refs []*telemetry.ProviderRef
	for _, n := range names {
		refs = append(refs, &telemetry.ProviderRef{Name: n})
	}
	return &telemetry.Telemetry{AccessLogging: []*telemetry.AccessLogging{{Providers: refs}}}
}

func telTraceTo(name string, sampling float64) *telemetry.Telemetry {
	return &telemetry.Telemetry{Tracing: []*telemetry.Tracing{{Providers: []*telemetry.ProviderRef{{Name: name}},
		RandomSamplingPercentage: wrapperspb.Double(sampling)}}}
}

func TestTelemetryProviderGolden(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mesh  model.Telemetry
		spec  *telemetry.Telemetry
		proxy model.Proxy
	}{
		{"provider-file-and-otel-als", model.Telemetry{}, telLogTo("file-json", "file-text", "otel-als"), scProductpage},
		{"provider-opentelemetry-tracing", model.Telemetry{}, telTraceTo("otel", 20), scProductpage},
		{"provider-zipkin-gateway", model.Telemetry{}, telTraceTo("zipkin-w3c", 5), fxGatewayProxy()},
		{"provider-default-providers", model.Telemetry{DefaultProviders: model.DefaultProviders{AccessLogging: []string{"otel-als"}, Tracing: []string{"otel"}}}, nil, scProductpage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var policies []*model.TelemetryPolicy
			if tc.spec != nil {
				policies = append(policies, telMeshWide(tc.spec))
			}
			snap := model.Build(telProviderMesh(t, tc.mesh, policies...))
			res, problems := ForProxy(snap, tc.proxy)
			telAssertProviderClustersExist(t, res)
			assertGoldenProxy(t, "telemetry", tc.name, res, append(problems, snap.Problems()...))
		})
	}
}

// A provider's service must be one the proxy has a cluster for, on a port
// it has (and HTTP/2-capable for OTLP/gRPC): otherwise the entry is left
// out for that proxy and reported where the provider was named, with why.
func TestTelemetryProviderUnreachableIsReported(t *testing.T) {
	hideObservability := scDefaultSidecar(&networking.Sidecar{Egress: []*networking.IstioEgressListener{{Hosts: []string{"./*"}}}})
	for _, tc := range []struct {
		name     string
		spec     *telemetry.Telemetry
		sidecars []*model.Sidecar
		field    string
		want     []string
	}{
		{"unknown service", telTraceTo("otel-nowhere", 1), nil, "spec.tracing[0].providers[0]",
			[]string{`provider "otel-nowhere"`, "is not a service this proxy has a cluster for", "not traced"}},
		{"port not on the service", telLogTo("otel-wrong-port"), nil, "spec.accessLogging[0].providers[0]",
			[]string{`provider "otel-wrong-port"`, "has no port 4318", "access log is not applied"}},
		{"TCP port for OTLP/gRPC", telTraceTo("otel-tcp", 1), nil, "spec.tracing[0].providers[0]",
			[]string{"port 5000", "declared TCP", "HTTP/2", "not traced"}},
		{"other namespace", telLogTo("otel-wrong-ns"), nil, "spec.accessLogging[0].providers[0]",
			[]string{`service "default/otel-collector.observability.svc.cluster.local" is not a service this proxy has a cluster for`}},
		{"hidden by the Sidecar", telLogTo("otel-als"), []*model.Sidecar{hideObservability}, "spec.accessLogging[0].providers[0]",
			[]string{`provider "otel-als"`, "left out by its Sidecar", "access log is not applied"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := telProviderMesh(t, model.Telemetry{}, telMeshWide(tc.spec))
			in.Sidecars = tc.sidecars
			res, problems := ForProxy(model.Build(in), scProductpage)
			validateAll(t, res)
			var found bool
			for _, p := range problems {
				if p.Kind != model.KindTelemetry || p.Meta.Name != "mesh-default" || p.Field != tc.field {
					continue
				}
				found = true
				for _, w := range tc.want {
					if !strings.Contains(p.Message, w) {
						t.Errorf("problem %q lacks %q", p.Message, w)
					}
				}
			}
			if !found {
				t.Fatalf("no problem at %s; problems: %v", tc.field, problems)
			}
			for _, f := range telNetworkFilters(res) {
				if f.GetName() != hcmFilterName {
					continue
				}
				var m hcmv3.HttpConnectionManager
				if err := f.GetTypedConfig().UnmarshalTo(&m); err != nil {
					t.Fatal(err)
				}
				if m.GetTracing() != nil || len(m.GetAccessLog()) > 0 {
					t.Fatalf("the unreachable provider was applied: tracing %v, access logs %v", m.GetTracing(), m.GetAccessLog())
				}
			}
		})
	}
}

// Reachable providers reach every connection manager (and the access log
// ones every TCP proxy), inbound and outbound, with Istio's settings.
func TestTelemetryProviderReachesEveryFilter(t *testing.T) {
	spec := telLogTo("otel-als", "file-text")
	spec.Tracing = telTraceTo("otel", 20).Tracing
	snap := model.Build(telProviderMesh(t, model.Telemetry{}, telMeshWide(spec)))
	res, problems := ForProxy(snap, scProductpage)
	validateAll(t, res)
	if len(problems) > 0 {
		t.Fatalf("problems: %v", problems)
	}
	hcms, tcps := 0, 0
	for _, f := range telNetworkFilters(res) {
		var logs []*accesslogv3.AccessLog
		switch f.GetName() {
		case hcmFilterName:
			hcms++
			var m hcmv3.HttpConnectionManager
			if err := f.GetTypedConfig().UnmarshalTo(&m); err != nil {
				t.Fatal(err)
			}
			logs = m.GetAccessLog()
			var otel tracev3.OpenTelemetryConfig
			if m.GetTracing().GetProvider().GetName() != otelTracerName || m.GetTracing().GetProvider().GetTypedConfig().UnmarshalTo(&otel) != nil {
				t.Fatalf("tracing %v", m.GetTracing())
			}
			g := otel.GetGrpcService().GetEnvoyGrpc()
			if g.GetClusterName() != "outbound|4317||otel-collector.observability.svc.cluster.local" || g.GetAuthority() != "otel-collector.observability.svc.cluster.local" ||
				otel.GetServiceName() != "productpage.default" || len(otel.GetResourceDetectors()) != 1 ||
				m.GetTracing().GetMaxPathTagLength().GetValue() != 99 || m.GetTracing().GetRandomSampling().GetValue() != 20 {
				t.Errorf("tracing %v, OpenTelemetry %v", m.GetTracing(), &otel)
			}
		case tcpProxyFilterName:
			tcps++
			var m tcpv3.TcpProxy
			if err := f.GetTypedConfig().UnmarshalTo(&m); err != nil {
				t.Fatal(err)
			}
			logs = m.GetAccessLog()
		default:
			continue
		}
		if len(logs) != 2 || logs[0].GetName() != fileAccessLogName || logs[1].GetName() != otelAccessLogName {
			t.Fatalf("%s: access logs %v, want the file-text one then the otel-als one", f.GetName(), logs)
		}
		var als otelalsv3.OpenTelemetryAccessLogConfig
		if err := logs[1].GetTypedConfig().UnmarshalTo(&als); err != nil {
			t.Fatal(err)
		}
		common := als.GetCommonConfig() //nolint:staticcheck // what Istio writes (see extensionAccessLog)
		if common.GetLogName() != "loom" || als.GetBody().GetStringValue() != "%REQ(:METHOD)% %RESPONSE_CODE%" ||
			len(als.GetAttributes().GetValues()) != 2 || als.GetAttributes().GetValues()[0].GetKey() != "peer" {
			t.Errorf("OpenTelemetry access log %v", &als)
		}
	}
	if hcms == 0 || tcps == 0 {
		t.Fatalf("connection managers %d, TCP proxies %d", hcms, tcps)
	}
	telAssertProviderClustersExist(t, res)
}

// telAssertProviderClustersExist checks that every cluster a gRPC service
// or Zipkin collector names is a cluster the proxy is sent.
func telAssertProviderClustersExist(t *testing.T, res Resources) {
	t.Helper()
	clusters := map[string]bool{}
	for _, r := range res[resourcev3.ClusterType] {
		clusters[r.(*clusterv3.Cluster).GetName()] = true
	}
	for _, f := range telNetworkFilters(res) {
		if f.GetName() != hcmFilterName {
			continue
		}
		var m hcmv3.HttpConnectionManager
		if err := f.GetTypedConfig().UnmarshalTo(&m); err != nil {
			t.Fatal(err)
		}
		var otel tracev3.OpenTelemetryConfig
		var zipkin tracev3.ZipkinConfig
		var cluster string
		if cfg := m.GetTracing().GetProvider().GetTypedConfig(); cfg != nil {
			switch {
			case cfg.UnmarshalTo(&otel) == nil:
				cluster = otel.GetGrpcService().GetEnvoyGrpc().GetClusterName()
			case cfg.UnmarshalTo(&zipkin) == nil:
				cluster = zipkin.GetCollectorCluster()
			}
			if !clusters[cluster] {
				t.Errorf("tracing sends to cluster %q, which the proxy does not have", cluster)
			}
		}
		for _, a := range m.GetAccessLog() {
			var als otelalsv3.OpenTelemetryAccessLogConfig
			if a.GetTypedConfig().UnmarshalTo(&als) == nil {
				//nolint:staticcheck // what Istio writes (see extensionAccessLog)
				if c := als.GetCommonConfig().GetGrpcService().GetEnvoyGrpc().GetClusterName(); !clusters[c] {
					t.Errorf("access log sends to cluster %q, which the proxy does not have", c)
				}
			}
		}
	}
}

// Translation never panics and always produces valid resources, whatever
// the telemetry extension providers and the Telemetry naming them say.
func FuzzTelemetryProviders(f *testing.F) {
	f.Add("otel-als", "/var/log/x", "%REQ(:METHOD)%", "k", "v", "otel-collector.observability.svc.cluster.local", uint32(4317), "/api", uint32(10), true)
	f.Add("file", "", "", "", "", "observability/otel-collector.observability.svc.cluster.local", uint32(9411), "", uint32(0), false)
	f.Add("zipkin", "\x00", "%%", "", "%REQ_WITHOUT_QUERY(:PATH)%", "a/b/c", uint32(70000), "nope", uint32(1), true)
	f.Add("otel", "p", "t", "k", "", "*", uint32(0), "/", uint32(5), false)
	f.Fuzz(func(t *testing.T, kind, path, text, key, value, service string, port uint32, zipkinPath string, maxTag uint32, gateway bool) {
		var js string
		labels := map[string]any{}
		if key != "" {
			labels[key] = value
		}
		switch kind {
		case "otel-als":
			js = jsonOf(t, map[string]any{"name": "p", "envoyOtelAls": map[string]any{"service": service, "port": port, "logName": path,
				"logFormat": map[string]any{"text": text, "labels": labels}}})
		case "file":
			lf := map[string]any{"text": text}
			if key != "" {
				lf = map[string]any{"labels": labels}
			}
			js = jsonOf(t, map[string]any{"name": "p", "envoyFileAccessLog": map[string]any{"path": path, "logFormat": lf}})
		case "zipkin":
			js = jsonOf(t, map[string]any{"name": "p", "zipkin": map[string]any{"service": service, "port": port, "path": zipkinPath, "maxTagLength": maxTag}})
		default:
			js = jsonOf(t, map[string]any{"name": "p", "opentelemetry": map[string]any{"service": service, "port": port, "maxTagLength": maxTag,
				"resourceDetectors": map[string]any{"dynatrace": map[string]any{}}}})
		}
		var ep model.ExtensionProvider
		if protojson.Unmarshal([]byte(js), &ep) != nil {
			return // not a provider protojson reads (invalid UTF-8)
		}
		spec := telLogTo("p")
		spec.Tracing = telTraceTo("p", 50).Tracing
		in := telProviderMesh(t, model.Telemetry{}, telMeshWide(spec))
		in.ExtensionProviders = []*model.ExtensionProvider{&ep}
		proxy := scProductpage
		if gateway {
			proxy = fxGatewayProxy()
		}
		res, _ := ForProxy(model.Build(in), proxy)
		validateAll(t, res)
	})
}

func jsonOf(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
