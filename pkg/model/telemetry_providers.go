package model

import (
	"fmt"
	"strings"
)

// ProviderSource is where a provider was named: a Telemetry entry or the
// mesh config. Problems found while applying the provider to a proxy
// are reported there.
type ProviderSource struct {
	Kind  string
	Meta  Meta
	Field string
}

var meshConfigMeta = Meta{Name: "mesh"}

// logProvider resolves an access log provider name: an extension provider
// of an access log kind (envoyFileAccessLog, envoyOtelAls) of that name, else
// the built-in "envoy" (matched case-insensitively, as in Istio). It
// returns the canonical name, the extension provider (nil for "envoy"),
// and why the name cannot be used ("" when it can).
func (s *Snapshot) logProvider(name string) (string, *ExtensionProvider, string) {
	if ep := s.ExtensionProvider(name); ep != nil {
		switch {
		case ep.GetEnvoyFileAccessLog() == nil && ep.GetEnvoyOtelAls() == nil:
			return name, nil, fmt.Sprintf("provider %q is %s provider, which writes no access log (access log kinds: envoyFileAccessLog, envoyOtelAls)", name, ProviderKind(ep))
		case CheckTelemetryProvider(ep) != nil:
			return name, nil, fmt.Sprintf("provider %q is invalid: %v", name, CheckTelemetryProvider(ep))
		}
		return name, ep, ""
	}
	if strings.EqualFold(name, EnvoyLogProvider) {
		return EnvoyLogProvider, nil, ""
	}
	return name, nil, fmt.Sprintf("provider %q is not defined: neither the built-in %q nor one of the mesh config's extensionProviders", name, EnvoyLogProvider)
}

// traceProvider resolves a tracing provider name like logProvider: an
// extension provider of a tracing kind (opentelemetry, zipkin), else the
// built-in "zipkin", which exists while the mesh config's tracing names a
// collector.
func (s *Snapshot) traceProvider(name string) (string, *ExtensionProvider, string) {
	if ep := s.ExtensionProvider(name); ep != nil {
		switch {
		case ep.GetOpentelemetry() == nil && ep.GetZipkin() == nil:
			return name, nil, fmt.Sprintf("provider %q is %s provider, which does not trace (tracing kinds: opentelemetry, zipkin)", name, ProviderKind(ep))
		case CheckTelemetryProvider(ep) != nil:
			return name, nil, fmt.Sprintf("provider %q is invalid: %v", name, CheckTelemetryProvider(ep))
		}
		return name, ep, ""
	}
	if strings.EqualFold(name, ZipkinTraceProvider) {
		if s.telemetry.Traces() {
			return ZipkinTraceProvider, nil, ""
		}
		return ZipkinTraceProvider, nil, fmt.Sprintf("the built-in provider %q needs the mesh config's tracing enabled with a collector", ZipkinTraceProvider)
	}
	return name, nil, fmt.Sprintf("provider %q is not defined: neither the built-in %q nor one of the mesh config's extensionProviders", name, ZipkinTraceProvider)
}

// ProviderKind names an extension provider's kind as the mesh config
// spells it, with its article ("an envoyExtAuthzHttp").
func ProviderKind(ep *ExtensionProvider) string {
	switch {
	case ep.GetEnvoyExtAuthzHttp() != nil:
		return "an envoyExtAuthzHttp"
	case ep.GetEnvoyExtAuthzGrpc() != nil:
		return "an envoyExtAuthzGrpc"
	case ep.GetEnvoyFileAccessLog() != nil:
		return "an envoyFileAccessLog"
	case ep.GetEnvoyOtelAls() != nil:
		return "an envoyOtelAls"
	case ep.GetOpentelemetry() != nil:
		return "an opentelemetry"
	case ep.GetZipkin() != nil:
		return "a zipkin"
	}
	return "an unsupported"
}

// ProviderService is the service and port a telemetry provider sends to;
// ok is false for kinds that send nowhere (envoyFileAccessLog) or are not
// telemetry kinds.
func ProviderService(ep *ExtensionProvider) (service string, port uint32, ok bool) {
	switch {
	case ep.GetEnvoyOtelAls() != nil:
		return ep.GetEnvoyOtelAls().GetService(), ep.GetEnvoyOtelAls().GetPort(), true
	case ep.GetOpentelemetry() != nil:
		return ep.GetOpentelemetry().GetService(), ep.GetOpentelemetry().GetPort(), true
	case ep.GetZipkin() != nil:
		return ep.GetZipkin().GetService(), ep.GetZipkin().GetPort(), true
	}
	return "", 0, false
}

// CheckTelemetryProvider checks what of a telemetry extension provider
// the API's schema checks too (the mesh config can also come from chart
// values): a "[<namespace>/]<hostname>" service, a port from 1 to 65535,
// a Zipkin path starting with "/", the options Loom supports.
func CheckTelemetryProvider(ep *ExtensionProvider) error {
	field := func(f string) string { return fmt.Sprintf("extension provider %q: %s", ep.GetName(), f) }
	if z := ep.GetZipkin(); z != nil {
		if p := z.GetPath(); p != "" && !strings.HasPrefix(p, "/") {
			return fmt.Errorf("%s: %q does not start with /", field("zipkin.path"), p)
		}
		if z.GetTimeout() != nil || len(z.GetHeaders()) > 0 {
			return fmt.Errorf("%s: timeout and headers are not supported", field("zipkin"))
		}
	}
	if o := ep.GetOpentelemetry(); o != nil {
		if o.GetHttp() != nil || o.GetGrpc() != nil || o.GetSampling() != nil || o.GetDynatraceSampler() != nil || o.GetServiceAttributeEnrichment() != 0 {
			return fmt.Errorf("%s: only service, port, maxTagLength and resourceDetectors are supported", field("opentelemetry"))
		}
	}
	service, port, ok := ProviderService(ep)
	if !ok {
		return nil
	}
	kind := strings.TrimPrefix(strings.TrimPrefix(ProviderKind(ep), "an "), "a ")
	ns, host, qualified := strings.Cut(service, "/")
	if service == "" || strings.Contains(host, "/") || (qualified && (ns == "" || host == "")) || strings.Contains(service, "*") {
		return fmt.Errorf("%s: %q is not \"[<namespace>/]<hostname>\"", field(kind+".service"), service)
	}
	if port < 1 || port > 65535 {
		return fmt.Errorf("%s: %d is not from 1 to 65535", field(kind+".port"), port)
	}
	return nil
}

// checkMeshTelemetryProviders reports the mesh config's invalid telemetry
// extension providers and the default providers that cannot be used.
func (s *Snapshot) checkMeshTelemetryProviders() {
	for i, ep := range s.extProviders {
		if err := CheckTelemetryProvider(ep); err != nil {
			s.report(MeshConfigKind, meshConfigMeta, fmt.Sprintf("spec.meshConfig.extensionProviders[%d]", i), "%v: Telemetry objects naming it get nothing from it", err)
		}
	}
	if d := s.telemetry.DefaultProviders; len(d.AccessLogging)+len(d.Tracing) > 0 {
		s.report(MeshConfigKind, meshConfigMeta, "spec.meshConfig.defaultProviders",
			"proxyless gRPC clients and servers neither log nor trace: gRPC-Go's xDS client implements neither (Envoy sidecars and gateways do)")
	}
	for i, name := range s.telemetry.DefaultProviders.AccessLogging {
		if _, _, why := s.logProvider(name); why != "" {
			s.report(MeshConfigKind, meshConfigMeta, fmt.Sprintf("spec.meshConfig.defaultProviders.accessLogging[%d]", i), "%s: it logs nothing", why)
		}
	}
	for i, name := range s.telemetry.DefaultProviders.Tracing {
		field := fmt.Sprintf("spec.meshConfig.defaultProviders.tracing[%d]", i)
		if i > 0 {
			s.report(MeshConfigKind, meshConfigMeta, field, "ignored: a proxy traces with one provider, the first, as in Istio")
			continue
		}
		if _, _, why := s.traceProvider(name); why != "" {
			s.report(MeshConfigKind, meshConfigMeta, field, "%s: proxies no Telemetry sets a tracing provider for are not traced", why)
		}
	}
}

// defaultLogSources are the default access log providers, with where the
// mesh config names them: defaultProviders.accessLogging, else the
// built-in "envoy" while accessLogging is enabled.
func (s *Snapshot) defaultLogSources() ([]string, map[string]ProviderSource) {
	sources := map[string]ProviderSource{}
	if names := s.telemetry.DefaultProviders.AccessLogging; len(names) > 0 {
		for i, n := range names {
			sources[n] = ProviderSource{Kind: MeshConfigKind, Meta: meshConfigMeta, Field: fmt.Sprintf("spec.meshConfig.defaultProviders.accessLogging[%d]", i)}
		}
		return names, sources
	}
	if s.telemetry.AccessLog != nil {
		sources[EnvoyLogProvider] = ProviderSource{Kind: MeshConfigKind, Meta: meshConfigMeta, Field: "spec.meshConfig.accessLogging"}
		return []string{EnvoyLogProvider}, sources
	}
	return nil, sources
}

// defaultTracing is the default tracing provider of both directions.
func (s *Snapshot) defaultTracing() tracingSpec {
	if names := s.telemetry.DefaultProviders.Tracing; len(names) > 0 {
		var sp tracingSpec
		sp.setProvider(s, names[0], ProviderSource{Kind: MeshConfigKind, Meta: meshConfigMeta, Field: "spec.meshConfig.defaultProviders.tracing[0]"})
		return sp
	}
	if s.telemetry.Traces() {
		return tracingSpec{provider: ZipkinTraceProvider, known: true,
			source: ProviderSource{Kind: MeshConfigKind, Meta: meshConfigMeta, Field: "spec.meshConfig.tracing"}}
	}
	return tracingSpec{}
}

func (sp *tracingSpec) setProvider(s *Snapshot, name string, src ProviderSource) {
	var why string
	sp.provider, sp.ext, why = s.traceProvider(name)
	sp.known, sp.source = why == "", src
}
