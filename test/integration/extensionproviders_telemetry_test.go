package integration

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

// The telemetry kinds of spec.meshConfig.extensionProviders and
// spec.meshConfig.defaultProviders are validated by the apiserver (CEL and
// OpenAPI): one kind per provider, ports from 1 to 65535, Istio's enums,
// one log format of a file log; fields Loom does not support are unknown.
func TestTelemetryExtensionProvidersAreValidated(t *testing.T) {
	const otel = `{"name": "otel", "opentelemetry": {"service": "otel-collector.observability.svc.cluster.local", "port": 4317}}`
	for _, tc := range []struct {
		name, meshConfig string
		want             []string // substrings of the apiserver's error; none: accepted
	}{
		{"valid", `{"extensionProviders": [` + otel + `,
			{"name": "otel-more", "opentelemetry": {"service": "observability/otel-collector.observability.svc.cluster.local", "port": 4317, "maxTagLength": 99, "resourceDetectors": {"environment": {}, "dynatrace": {}}}},
			{"name": "zipkin", "zipkin": {"service": "zipkin.istio-system.svc.cluster.local", "port": 9411, "maxTagLength": 64, "path": "/api/v2/spans", "traceContextOption": "USE_B3_WITH_W3C_PROPAGATION", "enable64bitTraceId": true}},
			{"name": "file-text", "envoyFileAccessLog": {"path": "/dev/stdout", "logFormat": {"text": "%START_TIME% %REQ(:METHOD)%"}}},
			{"name": "file-json", "envoyFileAccessLog": {"logFormat": {"labels": {"method": "%REQ(:METHOD)%", "nested": {"code": "%RESPONSE_CODE%"}}}}},
			{"name": "file-default", "envoyFileAccessLog": {}},
			{"name": "otel-als", "envoyOtelAls": {"service": "otel-collector.observability.svc.cluster.local", "port": 4317, "logName": "loom", "logFormat": {"text": "%REQ(:METHOD)%", "labels": {"peer": "%DOWNSTREAM_REMOTE_ADDRESS%"}}}}],
			"defaultProviders": {"accessLogging": ["envoy", "otel-als"], "tracing": ["otel"]}}`, nil},
		{"two-kinds", `{"extensionProviders": [{"name": "x", "opentelemetry": {"service": "a", "port": 1}, "zipkin": {"service": "a", "port": 1}}]}`,
			[]string{"spec.meshConfig.extensionProviders[0]", "opentelemetry and zipkin (tracing) must be set"}},
		{"authorizer-and-log", `{"extensionProviders": [{"name": "x", "envoyExtAuthzGrpc": {"service": "a", "port": 1}, "envoyFileAccessLog": {}}]}`,
			[]string{"exactly one of envoyExtAuthzHttp and envoyExtAuthzGrpc"}},
		{"duplicate-name", `{"extensionProviders": [` + otel + `, ` + otel + `]}`, []string{"extension provider names must be unique"}},
		{"otel-port-zero", `{"extensionProviders": [{"name": "x", "opentelemetry": {"service": "a", "port": 0}}]}`,
			[]string{"spec.meshConfig.extensionProviders[0].opentelemetry.port"}},
		{"otel-no-service", `{"extensionProviders": [{"name": "x", "envoyOtelAls": {"port": 4317}}]}`,
			[]string{"spec.meshConfig.extensionProviders[0].envoyOtelAls.service"}},
		{"zipkin-port-too-big", `{"extensionProviders": [{"name": "x", "zipkin": {"service": "a", "port": 65536}}]}`,
			[]string{"spec.meshConfig.extensionProviders[0].zipkin.port"}},
		{"zipkin-bad-option", `{"extensionProviders": [{"name": "x", "zipkin": {"service": "a", "port": 9411, "traceContextOption": "W3C"}}]}`,
			[]string{"spec.meshConfig.extensionProviders[0].zipkin.traceContextOption"}},
		{"zipkin-relative-path", `{"extensionProviders": [{"name": "x", "zipkin": {"service": "a", "port": 9411, "path": "spans"}}]}`,
			[]string{"spec.meshConfig.extensionProviders[0].zipkin.path"}},
		{"negative-max-tag-length", `{"extensionProviders": [{"name": "x", "opentelemetry": {"service": "a", "port": 1, "maxTagLength": -1}}]}`,
			[]string{"spec.meshConfig.extensionProviders[0].opentelemetry.maxTagLength"}},
		{"file-text-and-labels", `{"extensionProviders": [{"name": "x", "envoyFileAccessLog": {"logFormat": {"text": "%START_TIME%", "labels": {"a": "b"}}}}]}`,
			[]string{"spec.meshConfig.extensionProviders[0].envoyFileAccessLog.logFormat", "exactly one of text and labels"}},
		{"file-empty-format", `{"extensionProviders": [{"name": "x", "envoyFileAccessLog": {"logFormat": {}}}]}`,
			[]string{"exactly one of text and labels"}},
		{"file-labels-not-object", `{"extensionProviders": [{"name": "x", "envoyFileAccessLog": {"logFormat": {"labels": "a"}}}]}`,
			[]string{"spec.meshConfig.extensionProviders[0].envoyFileAccessLog.logFormat.labels"}},
		{"empty-default-provider", `{"defaultProviders": {"tracing": [""]}}`,
			[]string{"spec.meshConfig.defaultProviders.tracing[0]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mesh := &operatorv1alpha1.MeshOperator{ObjectMeta: metav1.ObjectMeta{Name: "tel-" + tc.name}}
			if err := json.Unmarshal([]byte(`{"meshConfig": `+tc.meshConfig+`}`), &mesh.Spec); err != nil {
				// A value the Go type cannot hold: send it as it is.
				createRaw(t, tc.name, tc.meshConfig, tc.want)
				return
			}
			err := k8sClient.Create(t.Context(), mesh, client.DryRunAll)
			checkValidation(t, err, tc.meshConfig, tc.want, func() { _ = k8sClient.Delete(context.Background(), mesh) })
		})
	}
}

// Fields and kinds Loom does not support are unknown to the schema: a
// strict create (kubectl's default) refuses them, naming the field.
func TestUnsupportedTelemetryProviderFieldsAreRefused(t *testing.T) {
	for _, tc := range []struct{ name, meshConfig, want string }{
		{"datadog", `{"extensionProviders": [{"name": "dd", "datadog": {"service": "dd", "port": 8126}}]}`, "datadog"},
		{"otel-http", `{"extensionProviders": [{"name": "o", "opentelemetry": {"service": "o", "port": 4318, "http": {"path": "/v1/traces"}}}]}`, "http"},
		{"zipkin-timeout", `{"extensionProviders": [{"name": "z", "zipkin": {"service": "z", "port": 9411, "timeout": "5s"}}]}`, "timeout"},
		{"metrics-defaults", `{"defaultProviders": {"metrics": ["prometheus"]}}`, "metrics"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			createRaw(t, "unsupported-"+tc.name, tc.meshConfig, []string{"unknown field", tc.want})
		})
	}
}

// createRaw creates (dry run, strict field validation) a MeshOperator
// whose spec.meshConfig is the JSON meshConfig, as kubectl would send it.
func createRaw(t *testing.T, name, meshConfig string, want []string) {
	t.Helper()
	body := `{"apiVersion": "operator.loom.dev/v1alpha1", "kind": "MeshOperator", "metadata": {"name": "tel-` + name +
		`"}, "spec": {"meshConfig": ` + meshConfig + `}}`
	var obj map[string]any
	if err := json.Unmarshal([]byte(body), &obj); err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: obj}
	err := k8sClient.Create(t.Context(), u, client.DryRunAll, client.FieldValidation("Strict"))
	checkValidation(t, err, meshConfig, want, func() { _ = k8sClient.Delete(context.Background(), u) })
}

func checkValidation(t *testing.T, err error, input string, want []string, cleanup func()) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("valid config rejected: %v", err)
		}
		return
	}
	if err == nil {
		cleanup()
		t.Fatalf("apiserver accepted %s", input)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not contain %q: %v", w, err)
		}
	}
}
