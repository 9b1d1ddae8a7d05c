package model

import (
	"fmt"
	"slices"

	"github.com/google/cel-go/common"
	"github.com/google/cel-go/parser"
	telemetry "istio.io/api/telemetry/v1alpha1"
)

// TelemetryFinding is what checking one Telemetry's spec on its own found.
type TelemetryFinding struct {
	FieldError
	// Invalid marks what Istio's validation rejects too; the other findings
	// name fields that have no effect, or not the one Istio gives them.
	Invalid bool
}

// CheckTelemetrySpec checks what of a Telemetry can be judged without the
// other objects and the mesh config: the control plane reports every
// finding as a problem, the validating webhook rejects the invalid ones and
// warns about the rest. Findings come in field order.
func CheckTelemetrySpec(spec *telemetry.Telemetry) []TelemetryFinding {
	var c telemetryChecks
	for i, ref := range telemetryTargetRefs(&TelemetryPolicy{Spec: spec}) {
		field := "spec.targetRef"
		if len(spec.GetTargetRefs()) > 0 {
			field = fmt.Sprintf("spec.targetRefs[%d]", i)
		}
		if isServiceRef(ref) {
			c.note(field, "Istio applies a Telemetry bound to Service %s only on its waypoint, which Loom does not run: the workloads the Service selects use it instead", ref.GetName())
			continue
		}
		c.note(field, "not enforced: %s %s/%s is not a proxy Loom runs (Istio applies such a reference to waypoints and Gateway API gateways only)", ref.GetKind(), ref.GetGroup(), ref.GetName())
	}
	for i, e := range spec.GetAccessLogging() {
		if err := TelemetryFilterError(e.GetFilter().GetExpression()); err != nil {
			c.invalid(fmt.Sprintf("spec.accessLogging[%d].filter.expression", i), "not a CEL expression (%v): this accessLogging entry is ignored", err)
		}
	}
	for i, e := range spec.GetTracing() {
		c.tracing(fmt.Sprintf("spec.tracing[%d]", i), e)
	}
	for i := range spec.GetMetrics() {
		c.note(fmt.Sprintf("spec.metrics[%d]", i), "not enforced: metrics overrides need Istio's stats filter, which upstream Envoy does not have")
	}
	return c.found
}

// TelemetryFilterError is why an access log filter expression does not
// parse as CEL, or nil (also for no expression).
func TelemetryFilterError(expr string) error {
	if expr == "" {
		return nil
	}
	p, err := parser.NewParser(parser.Macros(parser.AllMacros...))
	if err != nil {
		return err
	}
	if _, errs := p.Parse(common.NewTextSource(expr)); len(errs.GetErrors()) > 0 {
		return fmt.Errorf("%s", errs.GetErrors()[0].Message)
	}
	return nil
}

type telemetryChecks struct{ found []TelemetryFinding }

func (c *telemetryChecks) add(invalid bool, field, format string, args ...any) {
	c.found = append(c.found, TelemetryFinding{FieldError{field, fmt.Sprintf(format, args...)}, invalid})
}

func (c *telemetryChecks) note(field, format string, args ...any) {
	c.add(false, field, format, args...)
}

func (c *telemetryChecks) invalid(field, format string, args ...any) {
	c.add(true, field, format, args...)
}

func (c *telemetryChecks) tracing(at string, e *telemetry.Tracing) {
	field := func(f string) string { return at + "." + f }
	for j := range e.GetProviders() {
		if j > 0 {
			c.note(fmt.Sprintf("%s.providers[%d]", at, j), "ignored: a tracing entry uses its first provider only, as in Istio")
		}
	}
	tags := make([]string, 0, len(e.GetCustomTags()))
	for name := range e.GetCustomTags() {
		tags = append(tags, name)
	}
	slices.Sort(tags)
	// Istio rejects a tag without a name or with an empty literal, header or
	// environment name; one with no value at all it admits (and ignores).
	for _, name := range tags {
		switch tag := e.GetCustomTags()[name].GetType().(type) {
		case *telemetry.Tracing_CustomTag_Formatter:
			c.note(field("customTags."+name+".formatter"), "not enforced: formatter tags are not sent to proxies (literal, environment and header tags are)")
		case *telemetry.Tracing_CustomTag_Literal:
			if name == "" || tag.Literal.GetValue() == "" {
				c.invalid(field("customTags."+name+".literal.value"), "ignored: a tag needs a name and a non-empty value")
			}
		case *telemetry.Tracing_CustomTag_Environment:
			if name == "" || tag.Environment.GetName() == "" {
				c.invalid(field("customTags."+name+".environment.name"), "ignored: a tag needs a name and an environment variable name")
			}
		case *telemetry.Tracing_CustomTag_Header:
			if name == "" || tag.Header.GetName() == "" {
				c.invalid(field("customTags."+name+".header.name"), "ignored: a tag needs a name and a header name")
			}
		default:
			c.add(name == "", field("customTags."+name), "ignored: the tag has no value (literal, environment or header)")
		}
	}
	if e.GetUseRequestIdForTraceSampling() != nil {
		c.note(field("useRequestIdForTraceSampling"), "not enforced: Envoy's default (the request ID decides) stays")
	}
	if e.GetEnableIstioTags() != nil {
		c.note(field("enableIstioTags"), "not enforced: Loom adds no Istio tags to spans")
	}
	if e.GetDisableContextPropagation() != nil {
		c.note(field("disableContextPropagation"), "not enforced: trace context is always propagated")
	}
}
