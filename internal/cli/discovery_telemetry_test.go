package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"loom.dev/loom/internal/discovery"
	"loom.dev/loom/pkg/model"
)

func applyMeshConfigYAML(t *testing.T, text string) (discovery.Options, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mesh.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	var opts discovery.Options
	err := applyMeshConfig(&opts, path)
	return opts, err
}

func TestDiscoveryReadsTelemetry(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want model.Telemetry
	}{
		{"accessLogging: {enabled: false, encoding: JSON}\ntracing: {samplingPercentage: \"5\"}\n", model.Telemetry{}},
		{"accessLogging: {enabled: true, encoding: JSON, path: /var/log/access.log}\n",
			model.Telemetry{AccessLog: &model.AccessLog{Path: "/var/log/access.log", Encoding: model.AccessLogJSON}}},
		{"accessLogging: {enabled: true, path: /dev/stdout}\n",
			model.Telemetry{AccessLog: &model.AccessLog{Path: "/dev/stdout", Encoding: model.AccessLogText}}},
		{"tracing: {enabled: true, samplingPercentage: \"0.5\", collectorAddress: \"jaeger.loom-system.svc:9411\"}\n",
			model.Telemetry{Tracing: &model.Tracing{SamplingPercentage: 0.5, CollectorHost: "jaeger.loom-system.svc", CollectorPort: 9411}}},
		// No collector: discovery starts and its snapshot reports that nothing is traced.
		{"tracing: {enabled: true}\n", model.Telemetry{Tracing: &model.Tracing{SamplingPercentage: 1}}},
	} {
		opts, err := applyMeshConfigYAML(t, tc.yaml)
		if err != nil {
			t.Errorf("%q: %v", tc.yaml, err)
			continue
		}
		got, want := opts.Telemetry, tc.want
		if (got.AccessLog == nil) != (want.AccessLog == nil) || (got.AccessLog != nil && *got.AccessLog != *want.AccessLog) ||
			(got.Tracing == nil) != (want.Tracing == nil) || (got.Tracing != nil && *got.Tracing != *want.Tracing) {
			t.Errorf("%q: telemetry %+v %+v, want %+v %+v", tc.yaml, got.AccessLog, got.Tracing, want.AccessLog, want.Tracing)
		}
	}
}

func TestDiscoveryRefusesInvalidTelemetry(t *testing.T) {
	for _, tc := range []struct{ yaml, field string }{
		{"accessLogging: {enabled: true, path: \"\"}\n", "spec.meshConfig.accessLogging.path"},
		{"accessLogging: {enabled: true, path: /dev/stdout, encoding: XML}\n", "spec.meshConfig.accessLogging.encoding"},
		{"tracing: {enabled: true, samplingPercentage: lots, collectorAddress: \"z:9411\"}\n", "spec.meshConfig.tracing.samplingPercentage"},
		{"tracing: {enabled: true, samplingPercentage: \"101\", collectorAddress: \"z:9411\"}\n", "spec.meshConfig.tracing.samplingPercentage"},
		{"tracing: {enabled: true, collectorAddress: zipkin}\n", "spec.meshConfig.tracing.collectorAddress"},
		{"tracing: {enabled: true, collectorAddress: \"zipkin:0\"}\n", "spec.meshConfig.tracing.collectorAddress"},
	} {
		_, err := applyMeshConfigYAML(t, tc.yaml)
		if err == nil || !strings.Contains(err.Error(), tc.field+":") {
			t.Errorf("%q: error %v, want one naming %s", tc.yaml, err, tc.field)
		}
	}
}
