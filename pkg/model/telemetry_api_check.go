package model

import "fmt"

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
// the one Istio gives it; nothing is dropped silently. What one object
// shows on its own is CheckTelemetrySpec's (the validating webhook's too);
// what depends on the other objects and the mesh config is checked here.
func (s *Snapshot) checkTelemetries() {
	s.badLogFilters = map[string]bool{}
	s.checkMeshTelemetryProviders()
	for _, t := range s.telemetries {
		if telemetryNamespaceWide(t) {
			if first := s.namespaceWideTelemetry(t.Namespace); first != t {
				s.report(KindTelemetry, t.Meta, "spec",
					"ignored: %s is older and already applies to the whole namespace (Istio applies only the oldest namespace-wide Telemetry)", first.Meta)
			}
		}
		for _, f := range CheckTelemetrySpec(t.Spec) {
			s.report(KindTelemetry, t.Meta, f.Field, "%s", f.Message)
		}
		s.checkTelemetryProviders(t)
	}
}

// checkTelemetryProviders reports the providers that are not defined, not
// of the entry's kind or invalid, and remembers the access log filters that
// do not parse.
func (s *Snapshot) checkTelemetryProviders(t *TelemetryPolicy) {
	for i, e := range t.Spec.GetAccessLogging() {
		for j, name := range providerNames(e.GetProviders()) {
			if _, _, why := s.logProvider(name); why != "" {
				s.report(KindTelemetry, t.Meta, fmt.Sprintf("spec.accessLogging[%d].providers[%d]", i, j), "%s, so this provider logs nothing", why)
			}
		}
		if expr := e.GetFilter().GetExpression(); TelemetryFilterError(expr) != nil {
			s.badLogFilters[expr] = true
		}
	}
	for i, e := range t.Spec.GetTracing() {
		if names := providerNames(e.GetProviders()); len(names) > 0 {
			if _, _, why := s.traceProvider(names[0]); why != "" {
				s.report(KindTelemetry, t.Meta, fmt.Sprintf("spec.tracing[%d].providers[0]", i), "%s, so the workloads this entry applies to are not traced", why)
			}
		}
	}
}
