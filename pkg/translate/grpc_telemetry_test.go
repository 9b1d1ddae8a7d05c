package translate

import (
	"slices"
	"strings"
	"testing"

	telemetry "istio.io/api/telemetry/v1alpha1"

	"loom.dev/loom/pkg/model"
)

// TestGRPCTelemetryReportedWhereItSelects: a Telemetry with access logging or tracing is
// reported by the proxyless gRPC workloads it selects (gRPC-Go implements neither), and by
// nothing else: not by sidecars, not when its selector misses the workload, not when it
// has neither accessLogging nor tracing.
func TestGRPCTelemetryReportedWhereItSelects(t *testing.T) {
	in := telMesh(model.Telemetry{})
	in.RootNamespace = "istio-system"
	in.Telemetries = []*model.TelemetryPolicy{telAPIMesh, telAPIWorkload, telAPIPolicy("default", "metrics-only", 4, &telemetry.Telemetry{Selector: telAPIProductpage, Metrics: []*telemetry.Metrics{{}}})}
	snap := model.Build(in)
	reported := func(p model.Proxy) []string {
		_, problems := ForProxy(snap, p)
		var out []string
		for _, pr := range problems {
			if pr.Kind == model.KindTelemetry && strings.Contains(pr.Message, "proxyless gRPC") {
				out = append(out, pr.Meta.Namespace+"/"+pr.Meta.Name)
			}
		}
		slices.Sort(out)
		return out
	}
	grpcProductpage := model.Proxy{ID: "grpc-pp", Kind: model.KindGRPC, Namespace: "default", Labels: map[string]string{"app": "productpage"}}
	grpcOther := model.Proxy{ID: "grpc-other", Kind: model.KindGRPC, Namespace: "default", Labels: map[string]string{"app": "reviews"}}
	sidecar := model.Proxy{ID: "sidecar", Kind: model.KindSidecar, Namespace: "default", Labels: map[string]string{"app": "productpage"}}
	for _, tc := range []struct {
		proxy model.Proxy
		want  []string
	}{
		{grpcProductpage, []string{"default/productpage", "istio-system/mesh-default"}},
		{grpcOther, []string{"istio-system/mesh-default"}},
		{sidecar, nil},
	} {
		if got := reported(tc.proxy); !slices.Equal(got, tc.want) {
			t.Errorf("%s reports %v, want %v", tc.proxy.ID, got, tc.want)
		}
	}
}
