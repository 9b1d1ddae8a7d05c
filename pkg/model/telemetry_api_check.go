package model

import (
	"fmt"
	"slices"

	"github.com/google/cel-go/common"
	"github.com/google/cel-go/parser"
	telemetry "istio.io/api/telemetry/v1alpha1"
)

func validTelemetries(in []*TelemetryPolicy) []*TelemetryPolicy {
	out := make([]*TelemetryPolicy, 0, len(in))
	for _, t := range in {
		if t != nil && t.Spec != nil {
			out = append(out, t)
		}
	}
	return sortedByAge(out)
}

// checkTelemetries reports what of each Telemetry has no effect, or not
// the one Istio gives it; nothing is dropped silently.
func (s *Snapshot) checkTelemetries() {
	s.badLogFilters = map[string]bool{}
	for _, t := range s.telemetries {
		if telemetryNamespaceWide(t) {
			if first := s.namespaceWideTelemetry(t.Namespace); first != t {
				s.report(KindTelemetry, t.Meta, "spec",
					"ignored: %s is older and already applies to the whole namespace (Istio applies only the oldest namespace-wide Telemetry)", first.Meta)
			}
		}
		s.checkTelemetryTargets(t)
		s.checkTelemetryLogging(t)
		s.checkTelemetryTracing(t)
		for i := range t.Spec.GetMetrics() {
			s.report(KindTelemetry, t.Meta, fmt.Sprintf("spec.metrics[%d]", i),
				"not enforced: metrics overrides need Istio's stats filter, which upstream Envoy does not have")
		}
		if len(t.Spec.GetAccessLogging()) > 0 || len(t.Spec.GetTracing()) > 0 {
			s.report(KindTelemetry, t.Meta, "spec",
				"proxyless gRPC clients and servers get neither access logs nor tracing: gRPC-Go's xDS client implements neither (Envoy sidecars and gateways do)")
		}
	}
}

func (s *Snapshot) checkTelemetryTargets(t *TelemetryPolicy) {
	for i, ref := range telemetryTargetRefs(t) {
		field := "spec.targetRef"
		if len(t.Spec.GetTargetRefs()) > 0 {
			field = fmt.Sprintf("spec.targetRefs[%d]", i)
		}
		if isServiceRef(ref) {
			s.report(KindTelemetry, t.Meta, field,
				"Istio applies a Telemetry bound to Service %s only on its waypoint, which Loom does not run: the workloads the Service selects use it instead", ref.GetName())
			continue
		}
		s.report(KindTelemetry, t.Meta, field,
			"not enforced: %s %s/%s is not a proxy Loom runs (Istio applies such a reference to waypoints and Gateway API gateways only)", ref.GetKind(), ref.GetGroup(), ref.GetName())
	}
}

func (s *Snapshot) checkTelemetryLogging(t *TelemetryPolicy) {
	for i, e := range t.Spec.GetAccessLogging() {
		for j, name := range providerNames(e.GetProviders()) {
			if _, ok := s.knownProvider(name, false); !ok {
				s.report(KindTelemetry, t.Meta, fmt.Sprintf("spec.accessLogging[%d].providers[%d]", i, j),
					"provider %q is not defined: Loom's mesh config defines the access log provider %q only (its extensionProviders hold no access log kinds yet), so this provider logs nothing", name, EnvoyLogProvider)
			}
		}
		expr := e.GetFilter().GetExpression()
		if expr == "" {
			continue
		}
		if err := parseCEL(expr); err != nil {
			s.badLogFilters[expr] = true
			s.report(KindTelemetry, t.Meta, fmt.Sprintf("spec.accessLogging[%d].filter.expression", i),
				"not a CEL expression (%v): this accessLogging entry is ignored", err)
		}
	}
}

func parseCEL(expr string) error {
	p, err := parser.NewParser(parser.Macros(parser.AllMacros...))
	if err != nil {
		return err
	}
	if _, errs := p.Parse(common.NewTextSource(expr)); len(errs.GetErrors()) > 0 {
		return fmt.Errorf("%s", errs.GetErrors()[0].Message)
	}
	return nil
}

func (s *Snapshot) checkTelemetryTracing(t *TelemetryPolicy) {
	for i, e := range t.Spec.GetTracing() {
		at := func(f string) string { return fmt.Sprintf("spec.tracing[%d].%s", i, f) }
		for j, name := range providerNames(e.GetProviders()) {
			if j > 0 {
				s.report(KindTelemetry, t.Meta, fmt.Sprintf("spec.tracing[%d].providers[%d]", i, j),
					"ignored: a tracing entry uses its first provider only, as in Istio")
				continue
			}
			if _, ok := s.knownProvider(name, true); !ok {
				s.report(KindTelemetry, t.Meta, fmt.Sprintf("spec.tracing[%d].providers[%d]", i, j),
					"provider %q is not defined: Loom's mesh config defines the tracing provider %q only, and only while its tracing names a collector (its extensionProviders hold no tracing kinds yet), so the workloads this entry applies to are not traced", name, ZipkinTraceProvider)
			}
		}
		tags := make([]string, 0, len(e.GetCustomTags()))
		for name := range e.GetCustomTags() {
			tags = append(tags, name)
		}
		slices.Sort(tags)
		for _, name := range tags {
			switch tag := e.GetCustomTags()[name].GetType().(type) {
			case *telemetry.Tracing_CustomTag_Formatter:
				s.report(KindTelemetry, t.Meta, at("customTags."+name+".formatter"),
					"not enforced: formatter tags are not sent to proxies (literal, environment and header tags are)")
			case *telemetry.Tracing_CustomTag_Literal:
				if name == "" || tag.Literal.GetValue() == "" {
					s.report(KindTelemetry, t.Meta, at("customTags."+name+".literal.value"), "ignored: a tag needs a name and a non-empty value")
				}
			case *telemetry.Tracing_CustomTag_Environment:
				if name == "" || tag.Environment.GetName() == "" {
					s.report(KindTelemetry, t.Meta, at("customTags."+name+".environment.name"), "ignored: a tag needs a name and an environment variable name")
				}
			case *telemetry.Tracing_CustomTag_Header:
				if name == "" || tag.Header.GetName() == "" {
					s.report(KindTelemetry, t.Meta, at("customTags."+name+".header.name"), "ignored: a tag needs a name and a header name")
				}
			default:
				s.report(KindTelemetry, t.Meta, at("customTags."+name), "ignored: the tag has no value (literal, environment or header)")
			}
		}
		if e.GetUseRequestIdForTraceSampling() != nil {
			s.report(KindTelemetry, t.Meta, at("useRequestIdForTraceSampling"), "not enforced: Envoy's default (the request ID decides) stays")
		}
		if e.GetEnableIstioTags() != nil {
			s.report(KindTelemetry, t.Meta, at("enableIstioTags"), "not enforced: Loom adds no Istio tags to spans")
		}
		if e.GetDisableContextPropagation() != nil {
			s.report(KindTelemetry, t.Meta, at("disableContextPropagation"), "not enforced: trace context is always propagated")
		}
	}
}
