package translate

import (
	"testing"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	celv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/filters/cel/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
	telemetry "istio.io/api/telemetry/v1alpha1"
	typev1beta1 "istio.io/api/type/v1beta1"

	"loom.dev/loom/pkg/model"
)

func telAPIPolicy(ns, name string, age int, spec *telemetry.Telemetry) *model.TelemetryPolicy {
	return &model.TelemetryPolicy{Meta: model.Meta{Namespace: ns, Name: name, Created: fxCreated(age)}, Spec: spec}
}

var (
	telAPIProductpage = &typev1beta1.WorkloadSelector{MatchLabels: map[string]string{"app": "productpage"}}
	telAPIMesh        = telAPIPolicy("istio-system", "mesh-default", 0, &telemetry.Telemetry{
		AccessLogging: []*telemetry.AccessLogging{{Providers: []*telemetry.ProviderRef{{Name: "envoy"}}}},
		Tracing: []*telemetry.Tracing{{RandomSamplingPercentage: wrapperspb.Double(10), CustomTags: map[string]*telemetry.Tracing_CustomTag{
			"cluster": {Type: &telemetry.Tracing_CustomTag_Environment{Environment: &telemetry.Tracing_Environment{Name: "ISTIO_META_CLUSTER_ID", DefaultValue: "unknown"}}},
			"team":    {Type: &telemetry.Tracing_CustomTag_Literal{Literal: &telemetry.Tracing_Literal{Value: "bookinfo"}}},
		}}},
	})
	telAPINamespace = telAPIPolicy("default", "errors-only", 1, &telemetry.Telemetry{
		AccessLogging: []*telemetry.AccessLogging{{Providers: []*telemetry.ProviderRef{{Name: "envoy"}}, Filter: &telemetry.AccessLogging_Filter{Expression: "response.code >= 400"}}},
		Tracing: []*telemetry.Tracing{{CustomTags: map[string]*telemetry.Tracing_CustomTag{
			"user": {Type: &telemetry.Tracing_CustomTag_Header{Header: &telemetry.Tracing_RequestHeader{Name: "x-user", DefaultValue: "anonymous"}}}}}},
	})
	telAPIWorkload = telAPIPolicy("default", "productpage", 2, &telemetry.Telemetry{Selector: telAPIProductpage,
		AccessLogging: []*telemetry.AccessLogging{{Match: &telemetry.AccessLogging_LogSelector{Mode: telemetry.WorkloadMode_SERVER}, Providers: []*telemetry.ProviderRef{{Name: "envoy"}}}},
		Tracing:       []*telemetry.Tracing{{Match: &telemetry.Tracing_TracingSelector{Mode: telemetry.WorkloadMode_CLIENT}, RandomSamplingPercentage: wrapperspb.Double(100)}},
	})
	telAPIDisabled = telAPIPolicy("default", "quiet", 3, &telemetry.Telemetry{Selector: telAPIProductpage,
		AccessLogging: []*telemetry.AccessLogging{{Disabled: wrapperspb.Bool(true)}},
		Tracing:       []*telemetry.Tracing{{DisableSpanReporting: wrapperspb.Bool(true)}},
	})
)

// telAPIResources translates a proxy with the Telemetry objects applied:
// its listeners without telemetry, then the proxy's merged telemetry.
func telAPIResources(mesh model.Telemetry, policies []*model.TelemetryPolicy, proxy model.Proxy) (Resources, []model.Problem) {
	in := telMesh(model.Telemetry{})
	in.RootNamespace = "istio-system"
	res, problems := ForProxy(model.Build(in), proxy)
	in.Telemetry, in.Telemetries = mesh, policies
	snap := model.Build(in)
	problems = append(problems, applyTelemetry(snap, proxy, res)...)
	sortEnvoyResources(res)
	return res, append(problems, snap.Problems()...)
}

func TestTelemetryAPIGolden(t *testing.T) {
	mesh := model.Telemetry{AccessLog: telTextLog, Tracing: telZipkin}
	for _, tc := range []struct {
		name     string
		policies []*model.TelemetryPolicy
		proxy    model.Proxy
	}{
		{"api-mesh", []*model.TelemetryPolicy{telAPIMesh}, scProductpage},
		{"api-namespace", []*model.TelemetryPolicy{telAPIMesh, telAPINamespace}, scProductpage},
		{"api-workload-override", []*model.TelemetryPolicy{telAPIMesh, telAPINamespace, telAPIWorkload}, scProductpage},
		{"api-disabled", []*model.TelemetryPolicy{telAPIMesh, telAPIDisabled}, scProductpage},
		{"api-gateway-mesh", []*model.TelemetryPolicy{telAPIMesh}, fxGatewayProxy()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, problems := telAPIResources(mesh, tc.policies, tc.proxy)
			assertGoldenProxy(t, "telemetry", tc.name, res, problems)
		})
	}
}

// The namespace's filter expression reaches every access log as Envoy's
// CEL filter, inbound and outbound.
func TestTelemetryAPIFilterIsCEL(t *testing.T) {
	res, _ := telAPIResources(model.Telemetry{}, []*model.TelemetryPolicy{telAPINamespace}, scProductpage)
	validateAll(t, res)
	logs := 0
	for _, f := range telNetworkFilters(res) {
		var al []*accesslogv3.AccessLog
		if f.GetName() == hcmFilterName {
			var m hcmv3.HttpConnectionManager
			if err := f.GetTypedConfig().UnmarshalTo(&m); err != nil {
				t.Fatal(err)
			}
			al = m.GetAccessLog()
		}
		for _, a := range al {
			logs++
			ext := a.GetFilter().GetExtensionFilter()
			var cel celv3.ExpressionFilter
			if ext.GetName() != celFilterName || ext.GetTypedConfig().UnmarshalTo(&cel) != nil || cel.GetExpression() != "response.code >= 400" {
				t.Errorf("access log filter %v", a.GetFilter())
			}
		}
	}
	if logs == 0 {
		t.Fatal("no HTTP access log")
	}
}

// Translation never panics and always produces valid resources, whatever
// the Telemetry objects say.
func FuzzTelemetryAPI(f *testing.F) {
	f.Add("envoy", "response.code >= 400", int32(0), true, 50.0, "x-user", "lit", false)
	f.Add("otel", "", int32(2), false, 150.0, "", "", true)
	f.Add("ENVOY", "(((", int32(1), false, -1.0, "bad header", "", false)
	f.Fuzz(func(t *testing.T, provider, filter string, mode int32, disabled bool, sampling float64, header, literal string, workload bool) {
		spec := &telemetry.Telemetry{
			AccessLogging: []*telemetry.AccessLogging{{
				Match:     &telemetry.AccessLogging_LogSelector{Mode: telemetry.WorkloadMode(mode)},
				Providers: []*telemetry.ProviderRef{{Name: provider}}, Disabled: wrapperspb.Bool(disabled),
				Filter: &telemetry.AccessLogging_Filter{Expression: filter}}},
			Tracing: []*telemetry.Tracing{{
				Match:     &telemetry.Tracing_TracingSelector{Mode: telemetry.WorkloadMode(mode)},
				Providers: []*telemetry.ProviderRef{{Name: provider}}, RandomSamplingPercentage: wrapperspb.Double(sampling),
				CustomTags: map[string]*telemetry.Tracing_CustomTag{
					header:  {Type: &telemetry.Tracing_CustomTag_Header{Header: &telemetry.Tracing_RequestHeader{Name: header}}},
					literal: {Type: &telemetry.Tracing_CustomTag_Literal{Literal: &telemetry.Tracing_Literal{Value: literal}}},
				}}},
		}
		if workload {
			spec.Selector = telAPIProductpage
		}
		for _, proxy := range []model.Proxy{scProductpage, fxGatewayProxy()} {
			res, _ := telAPIResources(model.Telemetry{AccessLog: telTextLog, Tracing: telZipkin}, []*model.TelemetryPolicy{telAPIPolicy("default", "fuzz", 0, spec)}, proxy)
			validateAll(t, res)
		}
	})
}

// match.mode picks listeners by direction: the workload's SERVER-only log
// and CLIENT-only sampling reach inbound and outbound listeners only.
func TestTelemetryAPIModeSplitsDirections(t *testing.T) {
	mesh := model.Telemetry{AccessLog: telTextLog, Tracing: telZipkin}
	res, _ := telAPIResources(mesh, []*model.TelemetryPolicy{telAPIMesh, telAPINamespace, telAPIWorkload}, scProductpage)
	validateAll(t, res)
	seen := map[corev3.TrafficDirection]bool{}
	for _, r := range res[resourcev3.ListenerType] {
		l := r.(*listenerv3.Listener)
		inbound := l.GetTrafficDirection() == corev3.TrafficDirection_INBOUND
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				if f.GetName() != hcmFilterName {
					continue
				}
				var m hcmv3.HttpConnectionManager
				if err := f.GetTypedConfig().UnmarshalTo(&m); err != nil {
					t.Fatal(err)
				}
				seen[l.GetTrafficDirection()] = true
				wantFilter, wantSampling := !inbound, 100.0
				if inbound {
					wantSampling = 10
				}
				if len(m.GetAccessLog()) != 1 || (m.GetAccessLog()[0].GetFilter() != nil) != wantFilter {
					t.Errorf("%s: access logs %v, want one (filtered: %v)", l.GetName(), m.GetAccessLog(), wantFilter)
				}
				if got := m.GetTracing().GetRandomSampling().GetValue(); got != wantSampling {
					t.Errorf("%s: sampling %v, want %v", l.GetName(), got, wantSampling)
				}
			}
		}
	}
	if !seen[corev3.TrafficDirection_INBOUND] || !seen[corev3.TrafficDirection_OUTBOUND] {
		t.Fatalf("HTTP connection managers seen by direction: %v", seen)
	}
}
