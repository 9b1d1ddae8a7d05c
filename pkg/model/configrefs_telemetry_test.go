package model

import (
	"slices"
	"strings"
	"testing"

	telemetry "istio.io/api/telemetry/v1alpha1"
	typev1beta1 "istio.io/api/type/v1beta1"
)

// ConfigsFor follows Telemetry objects as TelemetryFor applies them: the root namespace's
// namespace-wide object on every Envoy proxy, a namespace's on its proxies, a selector's on
// the workloads of its namespace it picks; never on proxyless gRPC, and never the younger of
// two namespace-wide objects, which Istio ignores (it is not acted on at all).
func TestConfigsForFollowsTelemetryScope(t *testing.T) {
	logs := func() *telemetry.Telemetry {
		return &telemetry.Telemetry{AccessLogging: []*telemetry.AccessLogging{{Providers: []*telemetry.ProviderRef{{Name: EnvoyLogProvider}}}}}
	}
	selecting := func(app string) *telemetry.Telemetry {
		spec := logs()
		spec.Selector = &typev1beta1.WorkloadSelector{MatchLabels: map[string]string{"app": app}}
		return spec
	}
	targeting := logs()
	targeting.TargetRefs = []*typev1beta1.PolicyTargetReference{{Group: "gateway.networking.k8s.io", Kind: "Gateway", Name: "waypoint"}}
	snap := Build(Input{
		RootNamespace: "mesh",
		Telemetries: []*TelemetryPolicy{
			telPolicy("mesh", "mesh-default", 1, logs()),
			telPolicy("mesh", "root-app-x", 2, selecting("x")),
			telPolicy("web", "web-default", 3, logs()),
			telPolicy("web", "web-again", 4, logs()),
			telPolicy("web", "app-x", 5, selecting("x")),
			telPolicy("web", "waypoint-only", 6, targeting),
			telPolicy("edge", "ingress", 7, selecting("ingress")),
		},
	})
	for _, tc := range []struct {
		name  string
		proxy Proxy
		want  []string
	}{
		{"sidecar of app x in web", Proxy{Kind: KindSidecar, Namespace: "web", Labels: map[string]string{"app": "x"}},
			[]string{"Telemetry mesh/mesh-default", "Telemetry web/app-x", "Telemetry web/web-default"}},
		{"sidecar of app y in web", Proxy{Kind: KindSidecar, Namespace: "web", Labels: map[string]string{"app": "y"}},
			[]string{"Telemetry mesh/mesh-default", "Telemetry web/web-default"}},
		{"sidecar of app x in the root namespace", Proxy{Kind: KindSidecar, Namespace: "mesh", Labels: map[string]string{"app": "x"}},
			[]string{"Telemetry mesh/mesh-default", "Telemetry mesh/root-app-x"}},
		{"sidecar of app x in db", Proxy{Kind: KindSidecar, Namespace: "db", Labels: map[string]string{"app": "x"}},
			[]string{"Telemetry mesh/mesh-default"}},
		{"ingress gateway", Proxy{Kind: KindGateway, Namespace: "edge", Labels: map[string]string{"app": "ingress"}},
			[]string{"Telemetry edge/ingress", "Telemetry mesh/mesh-default"}},
		{"gRPC server of app x in web", Proxy{Kind: KindGRPC, Namespace: "web", Labels: map[string]string{"app": "x"}}, nil},
	} {
		var got []string
		for ref := range snap.ConfigsFor(tc.proxy) {
			if ref.Kind == KindTelemetry {
				got = append(got, ref.String())
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: Telemetries %q, want %q", tc.name, got, tc.want)
		}
	}

	gens := snap.ConfigGenerations()
	for _, name := range []string{"mesh/mesh-default", "mesh/root-app-x", "web/web-default", "web/app-x", "web/waypoint-only", "edge/ingress"} {
		ns, n, _ := strings.Cut(name, "/")
		if _, ok := gens[ConfigRef{Kind: KindTelemetry, Namespace: ns, Name: n}]; !ok {
			t.Errorf("Telemetry %s is acted on but missing from ConfigGenerations", name)
		}
	}
	if _, ok := gens[ConfigRef{Kind: KindTelemetry, Namespace: "web", Name: "web-again"}]; ok {
		t.Error("the younger namespace-wide Telemetry web/web-again is ignored, yet ConfigGenerations counts it as acted on")
	}
}
