package model

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/wrapperspb"
	telemetry "istio.io/api/telemetry/v1alpha1"
)

func telExtProviders(t *testing.T, js ...string) []*ExtensionProvider {
	t.Helper()
	var out []*ExtensionProvider
	for _, j := range js {
		var ep ExtensionProvider
		if err := protojson.Unmarshal([]byte(j), &ep); err != nil {
			t.Fatalf("%s: %v", j, err)
		}
		out = append(out, &ep)
	}
	return out
}

var telProviderJSON = []string{
	`{"name": "file", "envoyFileAccessLog": {"path": "/var/log/file.log"}}`,
	`{"name": "otel-als", "envoyOtelAls": {"service": "otel.obs.svc.cluster.local", "port": 4317}}`,
	`{"name": "otel", "opentelemetry": {"service": "obs/otel.obs.svc.cluster.local", "port": 4317}}`,
	`{"name": "zk", "zipkin": {"service": "zipkin.obs.svc.cluster.local", "port": 9411}}`,
	`{"name": "authz", "envoyExtAuthzGrpc": {"service": "authz.obs.svc.cluster.local", "port": 9000}}`,
	`{"name": "envoy", "envoyFileAccessLog": {"path": "/var/log/mine.log"}}`,
	`{"name": "bad-service", "opentelemetry": {"service": "a/b/c", "port": 4317}}`,
	`{"name": "bad-port", "envoyOtelAls": {"service": "otel.obs.svc.cluster.local"}}`,
	`{"name": "bad-path", "zipkin": {"service": "zipkin.obs.svc.cluster.local", "port": 9411, "path": "spans"}}`,
	`{"name": "otel-http", "opentelemetry": {"service": "otel.obs.svc.cluster.local", "port": 4318, "http": {"path": "/v1/traces"}}}`,
}

// Names resolve to extension providers of the right kind (an extension
// provider of a built-in's name wins), else to the built-ins; everything
// else is reported at the field naming it and contributes nothing.
func TestTelemetryProviderResolution(t *testing.T) {
	sleep := Proxy{Namespace: "default", Labels: map[string]string{"app": "sleep"}}
	for _, tc := range []struct {
		name      string
		mesh      Telemetry
		logs      []string
		trace     string
		wantLogs  string // provider:extension kind, ...
		wantTrace string
		problems  map[string]string // field: a part of the message
	}{
		{name: "access log kinds", logs: []string{"file", "otel-als"}, wantLogs: "file:an envoyFileAccessLog,otel-als:an envoyOtelAls"},
		{name: "tracing kinds", trace: "otel", wantTrace: "otel:an opentelemetry 1"},
		{name: "zipkin kind", trace: "zk", mesh: Telemetry{Tracing: &Tracing{SamplingPercentage: 7}}, wantTrace: "zk:a zipkin 7", problems: map[string]string{
			"spec.meshConfig.tracing.collectorAddress": `the built-in provider "zipkin" traces nothing`}},
		{name: "an extension provider named envoy wins over the built-in", logs: []string{"envoy"}, wantLogs: "envoy:an envoyFileAccessLog"},
		{name: "built-in envoy in other case", logs: []string{"Envoy2"}, problems: map[string]string{
			"spec.accessLogging[0].providers[0]": `provider "Envoy2" is not defined`}},
		{name: "authorizer as access log", logs: []string{"authz"}, problems: map[string]string{
			"spec.accessLogging[0].providers[0]": `provider "authz" is an envoyExtAuthzGrpc provider, which writes no access log`}},
		{name: "tracer as access log", logs: []string{"otel"}, problems: map[string]string{
			"spec.accessLogging[0].providers[0]": "which writes no access log"}},
		{name: "access log as tracer", trace: "otel-als", problems: map[string]string{
			"spec.tracing[0].providers[0]": `provider "otel-als" is an envoyOtelAls provider, which does not trace`}},
		{name: "built-in zipkin without a collector", trace: "zipkin", problems: map[string]string{
			"spec.tracing[0].providers[0]": "needs the mesh config's tracing enabled with a collector"}},
		{name: "undefined tracer", trace: "lightstep", problems: map[string]string{
			"spec.tracing[0].providers[0]": `provider "lightstep" is not defined`}},
		{name: "invalid service", trace: "bad-service", problems: map[string]string{
			"spec.tracing[0].providers[0]":          `provider "bad-service" is invalid`,
			"spec.meshConfig.extensionProviders[6]": `opentelemetry.service: "a/b/c" is not`}},
		{name: "invalid port", logs: []string{"bad-port"}, problems: map[string]string{
			"spec.accessLogging[0].providers[0]":    `provider "bad-port" is invalid`,
			"spec.meshConfig.extensionProviders[7]": "envoyOtelAls.port: 0 is not from 1 to 65535"}},
		{name: "invalid zipkin path", trace: "bad-path", problems: map[string]string{
			"spec.tracing[0].providers[0]":          `provider "bad-path" is invalid`,
			"spec.meshConfig.extensionProviders[8]": `zipkin.path: "spans" does not start with /`}},
		{name: "unsupported OpenTelemetry option", trace: "otel-http", problems: map[string]string{
			"spec.tracing[0].providers[0]":          `provider "otel-http" is invalid`,
			"spec.meshConfig.extensionProviders[9]": "only service, port, maxTagLength and resourceDetectors are supported"}},
		{name: "default providers", mesh: Telemetry{DefaultProviders: DefaultProviders{AccessLogging: []string{"otel-als", "file"}, Tracing: []string{"zk"}}},
			wantLogs: "file:an envoyFileAccessLog,otel-als:an envoyOtelAls", wantTrace: "zk:a zipkin 1"},
		{name: "default providers replace the mesh config's built-in defaults",
			mesh:     Telemetry{AccessLog: telMeshLog, Tracing: telMeshTraces, DefaultProviders: DefaultProviders{AccessLogging: []string{"file"}, Tracing: []string{"otel"}}},
			wantLogs: "file:an envoyFileAccessLog", wantTrace: "otel:an opentelemetry 5"},
		{name: "a Telemetry overrides the default providers", logs: []string{"otel-als"}, trace: "otel",
			mesh:     Telemetry{DefaultProviders: DefaultProviders{AccessLogging: []string{"file"}, Tracing: []string{"zk"}}},
			wantLogs: "otel-als:an envoyOtelAls", wantTrace: "otel:an opentelemetry 1"},
		{name: "unusable default providers", mesh: Telemetry{DefaultProviders: DefaultProviders{AccessLogging: []string{"nope"}, Tracing: []string{"authz", "otel"}}},
			problems: map[string]string{
				"spec.meshConfig.defaultProviders.accessLogging[0]": `provider "nope" is not defined`,
				"spec.meshConfig.defaultProviders.tracing[0]":       "which does not trace",
				"spec.meshConfig.defaultProviders.tracing[1]":       "ignored: a proxy traces with one provider"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var policies []*TelemetryPolicy
			if len(tc.logs) > 0 || tc.trace != "" {
				spec := &telemetry.Telemetry{}
				if len(tc.logs) > 0 {
					spec.AccessLogging = []*telemetry.AccessLogging{telLog(telemetry.WorkloadMode_CLIENT_AND_SERVER, false, "", tc.logs...)}
				}
				if tc.trace != "" {
					spec.Tracing = []*telemetry.Tracing{{Providers: []*telemetry.ProviderRef{{Name: tc.trace}}}}
				}
				policies = append(policies, telPolicy("istio-system", "mesh", 0, spec))
			}
			s := Build(Input{RootNamespace: "istio-system", Telemetry: tc.mesh, Telemetries: policies,
				ExtensionProviders: telExtProviders(t, telProviderJSON...)})
			got := s.TelemetryFor(sleep)
			if logs, trace := telExtLogs(got.Client), telExtTrace(got.Client); logs != tc.wantLogs || trace != tc.wantTrace {
				t.Errorf("logs %q trace %q, want %q %q", logs, trace, tc.wantLogs, tc.wantTrace)
			}
			if logs, trace := telExtLogs(got.Server), telExtTrace(got.Server); logs != tc.wantLogs || trace != tc.wantTrace {
				t.Errorf("server side: logs %q trace %q, want %q %q", logs, trace, tc.wantLogs, tc.wantTrace)
			}
			seen := map[string]bool{}
			for _, p := range s.Problems() {
				want, ok := tc.problems[p.Field]
				if !ok {
					// The invalid providers and what proxyless gRPC lacks are
					// reported in every case; the cases checking them list them.
					if !strings.HasPrefix(p.Field, "spec.meshConfig.extensionProviders[") && p.Field != "spec.meshConfig.accessLogging" && p.Field != "spec.meshConfig.tracing" && p.Field != "spec.meshConfig.defaultProviders" {
						t.Errorf("unexpected problem %v", p)
					}
					continue
				}
				seen[p.Field] = true
				if !strings.Contains(p.Message, want) {
					t.Errorf("%s: %q lacks %q", p.Field, p.Message, want)
				}
			}
			for f := range tc.problems {
				if !seen[f] {
					t.Errorf("no problem at %s; got %v", f, s.Problems())
				}
			}
		})
	}
}

func telExtLogs(d DirectionTelemetry) string {
	var parts []string
	for _, l := range d.AccessLogs {
		kind := "built-in " + l.Log.Path
		if l.Ext != nil {
			kind = ProviderKind(l.Ext)
		}
		parts = append(parts, l.Provider+":"+kind)
	}
	return strings.Join(parts, ",")
}

func telExtTrace(d DirectionTelemetry) string {
	if d.Tracing == nil {
		return ""
	}
	kind := "built-in"
	if d.Tracing.Ext != nil {
		kind = ProviderKind(d.Tracing.Ext)
	}
	return fmt.Sprintf("%s:%s %g", d.Tracing.Provider, kind, d.Tracing.SamplingPercentage)
}

// Each applied provider says where it was named, so that translation can
// report a provider it cannot reach at that field.
func TestTelemetryProviderSources(t *testing.T) {
	spec := &telemetry.Telemetry{
		AccessLogging: []*telemetry.AccessLogging{telLog(telemetry.WorkloadMode_SERVER, false, "", "file"), telLog(telemetry.WorkloadMode_CLIENT, false, "", "envoy-x", "otel-als")},
		Tracing:       []*telemetry.Tracing{{}, {Providers: []*telemetry.ProviderRef{{Name: "otel"}}, RandomSamplingPercentage: wrapperspb.Double(30)}},
	}
	s := Build(Input{RootNamespace: "istio-system", Telemetries: []*TelemetryPolicy{telPolicy("default", "ns", 0, spec)},
		Telemetry:          Telemetry{DefaultProviders: DefaultProviders{Tracing: []string{"zk"}}},
		ExtensionProviders: telExtProviders(t, telProviderJSON...)})
	got := s.TelemetryFor(Proxy{Namespace: "default"})
	want := map[string]string{
		"server file":     "Telemetry default/ns spec.accessLogging[0].providers[0]",
		"client otel-als": "Telemetry default/ns spec.accessLogging[1].providers[1]",
		"client tracing":  "Telemetry default/ns spec.tracing[1].providers[0]",
	}
	src := func(p ProviderSource) string { return p.Kind + " " + p.Meta.String() + " " + p.Field }
	if len(got.Server.AccessLogs) != 1 || src(got.Server.AccessLogs[0].Source) != want["server file"] {
		t.Errorf("server logs %+v", got.Server.AccessLogs)
	}
	if len(got.Client.AccessLogs) != 1 || src(got.Client.AccessLogs[0].Source) != want["client otel-als"] {
		t.Errorf("client logs %+v", got.Client.AccessLogs)
	}
	if tr := got.Client.Tracing; tr == nil || src(tr.Source) != want["client tracing"] || tr.SamplingPercentage != 30 {
		t.Errorf("client tracing %+v", tr)
	}

	// The default provider's source is the mesh config.
	got = Build(Input{Telemetry: Telemetry{DefaultProviders: DefaultProviders{Tracing: []string{"zk"}}},
		ExtensionProviders: telExtProviders(t, telProviderJSON...)}).TelemetryFor(Proxy{Namespace: "default"})
	if tr := got.Server.Tracing; tr == nil || src(tr.Source) != "MeshConfig /mesh spec.meshConfig.defaultProviders.tracing[0]" {
		t.Errorf("default tracing %+v", tr)
	}
}
