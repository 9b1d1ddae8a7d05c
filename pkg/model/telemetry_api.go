package model

import (
	telemetry "istio.io/api/telemetry/v1alpha1"
	typev1beta1 "istio.io/api/type/v1beta1"
)

// TelemetryPolicy is a telemetry.istio.io Telemetry (v1 and v1alpha1 share
// the spec): access logging, tracing and metrics for the workloads it picks.
type TelemetryPolicy = Config[*telemetry.Telemetry]

// KindTelemetry names the kind in problems.
const KindTelemetry = "Telemetry"

// The built-in providers a Telemetry can name besides the mesh config's
// extensionProviders of the access log and tracing kinds (an extension
// provider of the same name wins). Unless the mesh config's
// defaultProviders say otherwise, they are Istio's defaultProviders: the
// access log one when the mesh config's accessLogging is enabled, the
// tracing one when its tracing names a collector.
const (
	// EnvoyLogProvider is Istio's built-in file access log. With the mesh
	// config's accessLogging enabled it writes to that path and encoding;
	// otherwise to /dev/stdout in TEXT, as Istio's built-in does.
	EnvoyLogProvider = "envoy"
	// ZipkinTraceProvider is the mesh config's tracing: Zipkin spans to its
	// collector.
	ZipkinTraceProvider = "zipkin"
)

// builtinEnvoyLog is Istio's "envoy" provider when the mesh config sets no
// access log of its own.
var builtinEnvoyLog = AccessLog{Path: "/dev/stdout", Encoding: AccessLogText}

// ProxyTelemetry is what a proxy logs and traces, per direction: Client
// for outbound listeners and gateways, Server for inbound listeners.
type ProxyTelemetry struct {
	Client, Server DirectionTelemetry
}

// DirectionTelemetry is one direction's access logs and tracing.
type DirectionTelemetry struct {
	// AccessLogs are the enabled providers' logs, sorted by provider.
	AccessLogs []ProviderAccessLog
	// Tracing is nil when nothing is traced.
	Tracing *ProxyTracing
}

// ProviderAccessLog is one provider's access log.
type ProviderAccessLog struct {
	Provider string
	// Ext is the extension provider (envoyFileAccessLog, envoyOtelAls);
	// nil for the built-in "envoy", which writes Log.
	Ext *ExtensionProvider
	Log AccessLog
	// Filter is a CEL expression; only matching requests are logged.
	Filter string
	// Source is where the provider was named.
	Source ProviderSource
}

// ProxyTracing is the HTTP connection managers' tracing.
type ProxyTracing struct {
	Provider string
	// Ext is the extension provider (opentelemetry, zipkin); nil for the
	// built-in "zipkin", which sends to Collector.
	Ext                *ExtensionProvider
	Collector          Tracing
	SamplingPercentage float64
	CustomTags         map[string]*telemetry.Tracing_CustomTag
	// Source is where the provider was named.
	Source ProviderSource
}

// TelemetryFor merges the Telemetry objects that apply to a proxy with the
// mesh config, as Istio does: the root namespace's namespace-wide object
// (mesh), then the proxy namespace's (namespace), then the workload ones
// that select the proxy, oldest first; each more specific level overrides
// the fields it sets.
func (s *Snapshot) TelemetryFor(p Proxy) ProxyTelemetry {
	policies := s.telemetryPoliciesFor(p.Namespace, p.Labels)
	var out ProxyTelemetry
	out.Client.AccessLogs = s.accessLogs(policies, telemetry.WorkloadMode_CLIENT)
	out.Server.AccessLogs = s.accessLogs(policies, telemetry.WorkloadMode_SERVER)
	out.Client.Tracing, out.Server.Tracing = s.tracing(policies)
	return out
}

// telemetryPoliciesFor lists the objects that apply, least specific first.
// TelemetryPoliciesFor lists the Telemetry objects TelemetryFor merges for a workload.
func (s *Snapshot) TelemetryPoliciesFor(namespace string, labels map[string]string) []*TelemetryPolicy {
	return s.telemetryPoliciesFor(namespace, labels)
}

func (s *Snapshot) telemetryPoliciesFor(namespace string, labels map[string]string) []*TelemetryPolicy {
	var out []*TelemetryPolicy
	if mesh := s.namespaceWideTelemetry(s.rootNamespace); mesh != nil {
		out = append(out, mesh)
	}
	if namespace != s.rootNamespace {
		if ns := s.namespaceWideTelemetry(namespace); ns != nil {
			out = append(out, ns)
		}
	}
	for _, t := range s.telemetries {
		if t.Namespace != namespace || telemetryNamespaceWide(t) {
			continue
		}
		if refs := telemetryTargetRefs(t); len(refs) > 0 {
			for _, ref := range refs {
				if isServiceRef(ref) && s.serviceSelects(namespace, ref.GetName(), labels) {
					out = append(out, t)
					break
				}
			}
			continue
		}
		if labelsMatch(t.Spec.GetSelector().GetMatchLabels(), labels) {
			out = append(out, t)
		}
	}
	return out
}

// namespaceWideTelemetry is the oldest object of namespace without
// selector or target; Istio ignores the others.
func (s *Snapshot) namespaceWideTelemetry(namespace string) *TelemetryPolicy {
	for _, t := range s.telemetries {
		if t.Namespace == namespace && telemetryNamespaceWide(t) {
			return t
		}
	}
	return nil
}

func telemetryNamespaceWide(t *TelemetryPolicy) bool {
	return len(t.Spec.GetSelector().GetMatchLabels()) == 0 && len(telemetryTargetRefs(t)) == 0
}

func telemetryTargetRefs(t *TelemetryPolicy) []*typev1beta1.PolicyTargetReference {
	if refs := t.Spec.GetTargetRefs(); len(refs) > 0 {
		return refs
	}
	if ref := t.Spec.GetTargetRef(); ref != nil {
		return []*typev1beta1.PolicyTargetReference{ref}
	}
	return nil
}

func providerNames(refs []*telemetry.ProviderRef) []string {
	names := make([]string, 0, len(refs))
	for _, r := range refs {
		names = append(names, r.GetName())
	}
	return names
}

func (s *Snapshot) envoyLog() AccessLog {
	if s.telemetry.AccessLog != nil {
		return *s.telemetry.AccessLog
	}
	return builtinEnvoyLog
}

func modeMatches(m telemetry.WorkloadMode, mode telemetry.WorkloadMode) bool {
	return m == telemetry.WorkloadMode_CLIENT_AND_SERVER || m == mode
}

// Defaults is what every Envoy proxy logs and traces when no Telemetry
// object applies and the mesh config sets no defaultProviders: its access
// log and tracing, both ways.
func (t Telemetry) Defaults() ProxyTelemetry {
	var d DirectionTelemetry
	if t.AccessLog != nil {
		d.AccessLogs = []ProviderAccessLog{{Provider: EnvoyLogProvider, Log: *t.AccessLog,
			Source: ProviderSource{Kind: MeshConfigKind, Meta: meshConfigMeta, Field: "spec.meshConfig.accessLogging"}}}
	}
	if t.Traces() {
		d.Tracing = &ProxyTracing{Provider: ZipkinTraceProvider, Collector: *t.Tracing, SamplingPercentage: t.Tracing.SamplingPercentage,
			Source: ProviderSource{Kind: MeshConfigKind, Meta: meshConfigMeta, Field: "spec.meshConfig.tracing"}}
	}
	return ProxyTelemetry{Client: d, Server: d}
}

// Empty reports whether the direction neither logs nor traces.
func (d DirectionTelemetry) Empty() bool { return len(d.AccessLogs) == 0 && d.Tracing == nil }
