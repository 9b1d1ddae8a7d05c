package values

import (
	"reflect"
	"strings"
	"testing"
)

// The telemetry extension providers and defaultProviders of spec.meshConfig
// reach the mesh ConfigMap that loom discovery reads, field for field
// (JSON labels included), in a form its strict reader takes.
func TestTelemetryProvidersRenderIntoTheMeshConfigMap(t *testing.T) {
	mesh := defaulted(t, []byte(`
apiVersion: operator.loom.dev/v1alpha1
kind: MeshOperator
metadata: {name: mesh}
spec:
  namespace: loom-system
  version: 1.1.0
  meshConfig:
    extensionProviders:
    - name: file-json
      envoyFileAccessLog:
        path: /var/log/access.json
        logFormat:
          labels: {method: "%REQ(:METHOD)%", nested: {code: "%RESPONSE_CODE%"}}
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
        resourceDetectors: {environment: {}}
    - name: zipkin
      zipkin:
        service: zipkin.observability.svc.cluster.local
        port: 9411
        path: /zipkin/spans
        traceContextOption: USE_B3_WITH_W3C_PROPAGATION
    defaultProviders:
      accessLogging: [otel-als]
      tracing: [otel]
`))
	read := renderedMeshConfig(t, mesh)
	if !reflect.DeepEqual(read.ExtensionProviders, mesh.Spec.MeshConfig.ExtensionProviders) {
		t.Errorf("mesh.yaml providers %+v, want %+v", read.ExtensionProviders, mesh.Spec.MeshConfig.ExtensionProviders)
	}
	if !reflect.DeepEqual(read.DefaultProviders, mesh.Spec.MeshConfig.DefaultProviders) || read.DefaultProviders == nil {
		t.Errorf("mesh.yaml defaultProviders %+v, want %+v", read.DefaultProviders, mesh.Spec.MeshConfig.DefaultProviders)
	}
	if got := read.ExtensionProviders[0].EnvoyFileAccessLog; got == nil || got.LogFormat == nil || got.LogFormat.Labels == nil ||
		!strings.Contains(string(got.LogFormat.Labels.Raw), `"nested":{"code":"%RESPONSE_CODE%"}`) {
		t.Errorf("file provider read back as %+v", got)
	}
}
