package model

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"
	telemetry "istio.io/api/telemetry/v1alpha1"
	typev1beta1 "istio.io/api/type/v1beta1"
)

var (
	telMeshLog    = &AccessLog{Path: "/var/log/access.log", Encoding: AccessLogJSON}
	telMeshTraces = &Tracing{SamplingPercentage: 5, CollectorHost: "zipkin.istio-system", CollectorPort: 9411}
)

func telPolicy(ns, name string, age int, spec *telemetry.Telemetry) *TelemetryPolicy {
	return &TelemetryPolicy{Meta: Meta{Namespace: ns, Name: name, Created: time.Unix(int64(age), 0)}, Spec: spec}
}

func telLog(mode telemetry.WorkloadMode, disabled bool, filter string, providers ...string) *telemetry.AccessLogging {
	l := &telemetry.AccessLogging{}
	if mode != telemetry.WorkloadMode_CLIENT_AND_SERVER {
		l.Match = &telemetry.AccessLogging_LogSelector{Mode: mode}
	}
	if disabled {
		l.Disabled = wrapperspb.Bool(true)
	}
	if filter != "" {
		l.Filter = &telemetry.AccessLogging_Filter{Expression: filter}
	}
	for _, p := range providers {
		l.Providers = append(l.Providers, &telemetry.ProviderRef{Name: p})
	}
	return l
}

func logsOf(d DirectionTelemetry) string {
	var parts []string
	for _, l := range d.AccessLogs {
		parts = append(parts, l.Provider+":"+l.Log.Path+":"+l.Filter)
	}
	return strings.Join(parts, ",")
}

func TestTelemetryAccessLogInheritance(t *testing.T) {
	const both, client, server = telemetry.WorkloadMode_CLIENT_AND_SERVER, telemetry.WorkloadMode_CLIENT, telemetry.WorkloadMode_SERVER
	sleep := Proxy{Namespace: "default", Labels: map[string]string{"app": "sleep"}}
	for _, tc := range []struct {
		name               string
		mesh               Telemetry
		policies           []*TelemetryPolicy
		wantClient, wantSv string
	}{
		{"mesh config only", Telemetry{AccessLog: telMeshLog}, nil, "envoy:/var/log/access.log:", "envoy:/var/log/access.log:"},
		{"nothing", Telemetry{}, nil, "", ""},
		{"mesh Telemetry turns the built-in provider on", Telemetry{},
			[]*TelemetryPolicy{telPolicy("istio-system", "mesh", 1, &telemetry.Telemetry{AccessLogging: []*telemetry.AccessLogging{telLog(both, false, "", "envoy")}})},
			"envoy:/dev/stdout:", "envoy:/dev/stdout:"},
		{"namespace disables the mesh's default provider", Telemetry{AccessLog: telMeshLog},
			[]*TelemetryPolicy{telPolicy("default", "ns", 1, &telemetry.Telemetry{AccessLogging: []*telemetry.AccessLogging{telLog(both, true, "")}})},
			"", ""},
		{"workload filter overrides namespace", Telemetry{},
			[]*TelemetryPolicy{
				telPolicy("default", "ns", 1, &telemetry.Telemetry{AccessLogging: []*telemetry.AccessLogging{telLog(both, false, "", "envoy")}}),
				telPolicy("default", "sleep", 2, &telemetry.Telemetry{Selector: &typev1beta1.WorkloadSelector{MatchLabels: map[string]string{"app": "sleep"}},
					AccessLogging: []*telemetry.AccessLogging{telLog(both, false, "response.code >= 400", "envoy")}}),
			},
			"envoy:/dev/stdout:response.code >= 400", "envoy:/dev/stdout:response.code >= 400"},
		{"workload of another app does not apply", Telemetry{AccessLog: telMeshLog},
			[]*TelemetryPolicy{telPolicy("default", "other", 1, &telemetry.Telemetry{Selector: &typev1beta1.WorkloadSelector{MatchLabels: map[string]string{"app": "other"}},
				AccessLogging: []*telemetry.AccessLogging{telLog(both, true, "")}})},
			"envoy:/var/log/access.log:", "envoy:/var/log/access.log:"},
		{"client mode only", Telemetry{},
			[]*TelemetryPolicy{telPolicy("istio-system", "mesh", 1, &telemetry.Telemetry{AccessLogging: []*telemetry.AccessLogging{telLog(client, false, "", "envoy")}})},
			"envoy:/dev/stdout:", ""},
		// As Istio's mergeLogs: once any level lists accessLogging, only the
		// providers an entry matching the direction turns on stay on.
		{"server side disabled by the workload", Telemetry{AccessLog: telMeshLog},
			[]*TelemetryPolicy{telPolicy("default", "sleep", 1, &telemetry.Telemetry{Selector: &typev1beta1.WorkloadSelector{MatchLabels: map[string]string{"app": "sleep"}},
				AccessLogging: []*telemetry.AccessLogging{telLog(server, true, "", "envoy")}})},
			"", ""},
		{"server side disabled, client side kept", Telemetry{AccessLog: telMeshLog},
			[]*TelemetryPolicy{telPolicy("default", "sleep", 1, &telemetry.Telemetry{Selector: &typev1beta1.WorkloadSelector{MatchLabels: map[string]string{"app": "sleep"}},
				AccessLogging: []*telemetry.AccessLogging{telLog(server, true, "", "envoy"), telLog(client, false, "", "envoy")}})},
			"envoy:/var/log/access.log:", ""},
		{"unknown provider logs nothing", Telemetry{},
			[]*TelemetryPolicy{telPolicy("istio-system", "mesh", 1, &telemetry.Telemetry{AccessLogging: []*telemetry.AccessLogging{telLog(both, false, "", "otel")}})},
			"", ""},
		{"unparsable filter leaves the entry out", Telemetry{AccessLog: telMeshLog},
			[]*TelemetryPolicy{telPolicy("default", "ns", 1, &telemetry.Telemetry{AccessLogging: []*telemetry.AccessLogging{telLog(both, true, "response.code >=")}})},
			"envoy:/var/log/access.log:", "envoy:/var/log/access.log:"},
		{"only the oldest namespace-wide object applies", Telemetry{AccessLog: telMeshLog},
			[]*TelemetryPolicy{
				telPolicy("default", "newer", 2, &telemetry.Telemetry{AccessLogging: []*telemetry.AccessLogging{telLog(both, true, "")}}),
				telPolicy("default", "older", 1, &telemetry.Telemetry{AccessLogging: []*telemetry.AccessLogging{telLog(both, false, "connection.mtls", "envoy")}}),
			},
			"envoy:/var/log/access.log:connection.mtls", "envoy:/var/log/access.log:connection.mtls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Build(Input{RootNamespace: "istio-system", Telemetry: tc.mesh, Telemetries: tc.policies})
			got := s.TelemetryFor(sleep)
			if c, sv := logsOf(got.Client), logsOf(got.Server); c != tc.wantClient || sv != tc.wantSv {
				t.Errorf("client %q server %q, want %q %q; problems %v", c, sv, tc.wantClient, tc.wantSv, s.Problems())
			}
		})
	}
}

func TestTelemetryTracingInheritance(t *testing.T) {
	sleep := Proxy{Namespace: "default", Labels: map[string]string{"app": "sleep"}}
	tag := map[string]*telemetry.Tracing_CustomTag{"team": {Type: &telemetry.Tracing_CustomTag_Literal{Literal: &telemetry.Tracing_Literal{Value: "a"}}}}
	mesh := telPolicy("istio-system", "mesh", 1, &telemetry.Telemetry{Tracing: []*telemetry.Tracing{{RandomSamplingPercentage: wrapperspb.Double(10), CustomTags: tag}}})
	for _, tc := range []struct {
		name           string
		mesh           Telemetry
		policies       []*TelemetryPolicy
		client, server string
	}{
		{"mesh config only", Telemetry{Tracing: telMeshTraces}, nil, "zipkin 5 0", "zipkin 5 0"},
		{"no collector: nothing traced", Telemetry{}, []*TelemetryPolicy{mesh}, "off", "off"},
		{"mesh Telemetry sets sampling and tags", Telemetry{Tracing: telMeshTraces}, []*TelemetryPolicy{mesh}, "zipkin 10 1", "zipkin 10 1"},
		{"namespace keeps the mesh's tags, sets sampling", Telemetry{Tracing: telMeshTraces}, []*TelemetryPolicy{mesh,
			telPolicy("default", "ns", 2, &telemetry.Telemetry{Tracing: []*telemetry.Tracing{{RandomSamplingPercentage: wrapperspb.Double(50)}}})}, "zipkin 50 1", "zipkin 50 1"},
		{"workload disables span reporting on the server side", Telemetry{Tracing: telMeshTraces}, []*TelemetryPolicy{mesh,
			telPolicy("default", "sleep", 2, &telemetry.Telemetry{Selector: &typev1beta1.WorkloadSelector{MatchLabels: map[string]string{"app": "sleep"}},
				Tracing: []*telemetry.Tracing{{Match: &telemetry.Tracing_TracingSelector{Mode: telemetry.WorkloadMode_SERVER}, DisableSpanReporting: wrapperspb.Bool(true)}}})}, "zipkin 10 1", "off"},
		{"unknown provider: not traced", Telemetry{Tracing: telMeshTraces}, []*TelemetryPolicy{
			telPolicy("default", "ns", 2, &telemetry.Telemetry{Tracing: []*telemetry.Tracing{{Providers: []*telemetry.ProviderRef{{Name: "otel"}}}}})}, "off", "off"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Build(Input{RootNamespace: "istio-system", Telemetry: tc.mesh, Telemetries: tc.policies})
			got := s.TelemetryFor(sleep)
			str := func(tr *ProxyTracing) string {
				if tr == nil {
					return "off"
				}
				return tr.Provider + " " + strings.TrimRight(strings.TrimRight(strconvF(tr.SamplingPercentage), "0"), ".") + " " + strconvI(len(tr.CustomTags))
			}
			if c, sv := str(got.Client.Tracing), str(got.Server.Tracing); c != tc.client || sv != tc.server {
				t.Errorf("client %q server %q, want %q %q", c, sv, tc.client, tc.server)
			}
		})
	}
}

// With no Telemetry object, every proxy gets exactly the mesh config's
// defaults, which is what the translator applied before Telemetry existed.
func TestTelemetryForWithoutPoliciesIsTheDefaults(t *testing.T) {
	mesh := Telemetry{AccessLog: telMeshLog, Tracing: telMeshTraces}
	got := Build(Input{Telemetry: mesh}).TelemetryFor(Proxy{Namespace: "x"})
	if want := mesh.Defaults(); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestTelemetryProblemsNameObjectAndField(t *testing.T) {
	tel := telPolicy("default", "bad", 1, &telemetry.Telemetry{
		TargetRefs:    []*typev1beta1.PolicyTargetReference{{Kind: "Gateway", Group: "gateway.networking.k8s.io", Name: "gw"}},
		AccessLogging: []*telemetry.AccessLogging{telLog(telemetry.WorkloadMode_CLIENT_AND_SERVER, false, "response.code >=", "envoy", "otel-als")},
		Tracing: []*telemetry.Tracing{{Providers: []*telemetry.ProviderRef{{Name: "otel"}},
			CustomTags: map[string]*telemetry.Tracing_CustomTag{"f": {Type: &telemetry.Tracing_CustomTag_Formatter{Formatter: &telemetry.Tracing_Formatter{Value: "%REQ(x)%"}}}}}},
		Metrics: []*telemetry.Metrics{{}},
	})
	s := Build(Input{RootNamespace: "istio-system", Telemetries: []*TelemetryPolicy{tel}})
	var fields []string
	for _, p := range s.Problems() {
		if p.Kind != KindTelemetry || p.Meta.Name != "bad" {
			t.Errorf("problem about %s %s", p.Kind, p.Meta)
		}
		fields = append(fields, p.Field)
	}
	// (That gRPC workloads get neither logs nor traces is reported by the gRPC translation of
	// the workloads the Telemetry selects, not here.)
	want := []string{"spec.accessLogging[0].filter.expression", "spec.accessLogging[0].providers[1]", "spec.metrics[0]",
		"spec.targetRefs[0]", "spec.tracing[0].customTags.f.formatter", "spec.tracing[0].providers[0]"}
	if !reflect.DeepEqual(fields, want) {
		t.Errorf("fields %q, want %q", fields, want)
	}
}

func strconvF(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }
func strconvI(i int) string     { return strconv.Itoa(i) }
