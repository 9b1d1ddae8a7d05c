package meshsettings

import (
	"reflect"
	"strings"
	"testing"

	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"loom.dev/loom/pkg/model"
	"loom.dev/loom/pkg/translate"
)

// The telemetry extension providers and defaultProviders of the mesh config
// file reach the model in Istio's MeshConfig form, field for field.
func TestTelemetryProvidersReachTheModel(t *testing.T) {
	mesh, err := Parse([]byte(`
extensionProviders:
- name: file-json
  envoyFileAccessLog:
    path: /var/log/access.json
    logFormat:
      labels: {method: "%REQ(:METHOD)%", nested: {code: "%RESPONSE_CODE%"}, size: 3}
- name: file-text
  envoyFileAccessLog:
    logFormat: {text: "%START_TIME% %REQ(:METHOD)%"}
- name: otel-als
  envoyOtelAls:
    service: observability/otel-collector.observability.svc.cluster.local
    port: 4317
    logName: loom
    logFormat: {text: "%REQ(:METHOD)%", labels: {peer: "%DOWNSTREAM_REMOTE_ADDRESS%"}}
- name: otel
  opentelemetry:
    service: otel-collector.observability.svc.cluster.local
    port: 4317
    maxTagLength: 99
    resourceDetectors: {environment: {}, dynatrace: {}}
- name: zipkin
  zipkin:
    service: zipkin.observability.svc.cluster.local
    port: 9411
    maxTagLength: 64
    enable64bitTraceId: true
    path: /zipkin/spans
    traceContextOption: USE_B3_WITH_W3C_PROPAGATION
- name: authz
  envoyExtAuthzGrpc: {service: authz.foo.svc.cluster.local, port: 9000}
defaultProviders:
  accessLogging: [otel-als, file-text]
  tracing: [otel]
`), "test")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"name":"file-json","envoyFileAccessLog":{"path":"/var/log/access.json","logFormat":{"labels":{"method":"%REQ(:METHOD)%","nested":{"code":"%RESPONSE_CODE%"},"size":3}}}}`,
		`{"name":"file-text","envoyFileAccessLog":{"logFormat":{"text":"%START_TIME% %REQ(:METHOD)%"}}}`,
		`{"name":"otel-als","envoyOtelAls":{"service":"observability/otel-collector.observability.svc.cluster.local","port":4317,"logName":"loom","logFormat":{"text":"%REQ(:METHOD)%","labels":{"peer":"%DOWNSTREAM_REMOTE_ADDRESS%"}}}}`,
		`{"name":"otel","opentelemetry":{"service":"otel-collector.observability.svc.cluster.local","port":4317,"maxTagLength":99,"resourceDetectors":{"environment":{},"dynatrace":{}}}}`,
		`{"name":"zipkin","zipkin":{"service":"zipkin.observability.svc.cluster.local","port":9411,"maxTagLength":64,"enable64bitTraceId":true,"path":"/zipkin/spans","traceContextOption":"USE_B3_WITH_W3C_PROPAGATION"}}`,
		`{"name":"authz","envoyExtAuthzGrpc":{"service":"authz.foo.svc.cluster.local","port":9000}}`,
	}
	if len(mesh.ExtensionProviders) != len(want) {
		t.Fatalf("providers %v", mesh.ExtensionProviders)
	}
	for i, p := range mesh.ExtensionProviders {
		var w model.ExtensionProvider
		if err := protojson.Unmarshal([]byte(want[i]), &w); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(p, &w) {
			t.Errorf("provider %d:\n got %v\nwant %v", i, p, &w)
		}
		if err := model.CheckTelemetryProvider(p); err != nil {
			t.Error(err)
		}
	}
	wantDefaults := model.DefaultProviders{AccessLogging: []string{"otel-als", "file-text"}, Tracing: []string{"otel"}}
	if !reflect.DeepEqual(mesh.Telemetry.DefaultProviders, wantDefaults) {
		t.Errorf("default providers %+v, want %+v", mesh.Telemetry.DefaultProviders, wantDefaults)
	}
}

// A provider kind Loom does not support, or a field of one, is refused by
// the strict reader (as by the API's schema), naming it.
func TestUnsupportedTelemetryProviderFieldsAreRefused(t *testing.T) {
	for _, doc := range []string{
		"extensionProviders:\n- name: dd\n  datadog: {service: dd.svc, port: 8126}\n",
		"extensionProviders:\n- name: otel\n  opentelemetry: {service: o.svc, port: 4317, http: {path: /v1/traces}}\n",
		"extensionProviders:\n- name: zk\n  zipkin: {service: z.svc, port: 9411, timeout: 5s}\n",
		"defaultProviders: {metrics: [prometheus]}\n",
	} {
		if _, err := Parse([]byte(doc), "test"); err == nil {
			t.Errorf("accepted %q", doc)
		}
	}
}

// From the mesh config file to a sidecar's listeners: defaultProviders
// naming an OpenTelemetry tracer reach every HTTP connection manager.
func TestDefaultTracingProviderReachesTheSidecar(t *testing.T) {
	mesh, err := Parse([]byte(`
extensionProviders:
- name: otel
  opentelemetry: {service: otel-collector.observability.svc.cluster.local, port: 4317}
defaultProviders: {tracing: [otel]}
`), "test")
	if err != nil {
		t.Fatal(err)
	}
	in, err := mesh.Input("", "istio-system")
	if err != nil {
		t.Fatal(err)
	}
	in.Services = []*model.Service{
		{Hostname: "otel-collector.observability.svc.cluster.local", Namespace: "observability", Name: "otel-collector",
			Source: model.SourceKubernetes, Addresses: []string{"10.0.0.40"}, Ports: []model.Port{{Name: "grpc-otlp", Number: 4317, Protocol: model.ProtocolGRPC}}},
		{Hostname: "web.default.svc.cluster.local", Namespace: "default", Name: "web",
			Source: model.SourceKubernetes, Addresses: []string{"10.0.0.41"}, Ports: []model.Port{{Name: "http", Number: 8080, Protocol: model.ProtocolHTTP}}},
	}
	res, problems := translate.ForProxy(model.Build(in), model.Proxy{ID: "sidecar~default", Kind: model.KindSidecar, Namespace: "default",
		Labels: map[string]string{"app": "web"}, IPs: []string{"10.1.0.1"}})
	if len(problems) > 0 {
		t.Fatalf("problems: %v", problems)
	}
	hcms := 0
	for _, r := range res[resourcev3.ListenerType] {
		b, err := protojson.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		hcms += strings.Count(string(b), "HttpConnectionManager")
		if n := strings.Count(string(b), `"envoy.tracers.opentelemetry"`); n != strings.Count(string(b), "HttpConnectionManager") {
			t.Errorf("listener %s: %d OpenTelemetry tracers for its connection managers", cachev3.GetResourceName(r), n)
		}
	}
	if hcms == 0 {
		t.Fatal("no HTTP connection manager")
	}
}
