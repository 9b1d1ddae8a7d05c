package validation

import "testing"

func TestTelemetry(t *testing.T) {
	runCases(t, "telemetry.istio.io", "Telemetry", []testCase{
		{name: "istio docs: mesh-wide sampling", spec: `
tracing:
- randomSamplingPercentage: 10.00`},
		{name: "istio docs: custom tag for a workload", spec: `
selector:
  matchLabels: {service.istio.io/canonical-name: frontend}
tracing:
- customTags:
    my_new_foo_tag:
      literal: {value: "foo"}`},
		{name: "istio docs: access logs of failed requests", spec: `
accessLogging:
- providers: [{name: envoy}]
  filter: {expression: response.code >= 400}`},
		{name: "istio docs: disable access logs of a workload", spec: `
selector:
  matchLabels: {app: helloworld}
accessLogging:
- disabled: true`},

		{name: "filter that is not CEL", want: "spec.accessLogging[0].filter.expression", spec: `
accessLogging:
- filter: {expression: "response.code >="}`},
		{name: "empty literal tag", want: "spec.tracing[0].customTags.team.literal.value", spec: `
tracing:
- customTags:
    team: {literal: {value: ""}}`},
		{name: "header tag without a header", want: "spec.tracing[0].customTags.user.header.name", spec: `
tracing:
- customTags:
    user: {header: {}}`},
		{name: "sampling above 100", want: "spec.tracing[0].randomSamplingPercentage", spec: `
tracing:
- randomSamplingPercentage: 101`},
		{name: "provider without a name", want: "spec.accessLogging[0].providers[0].name", spec: `
accessLogging:
- providers: [{name: ""}]`},
		{name: "selector and targetRefs", want: "spec", spec: `
selector: {matchLabels: {app: a}}
targetRefs: [{kind: Service, group: "", name: a}]
tracing: [{}]`},
		{name: "UPSERT without a value", want: "spec.metrics[0].overrides[0].tagOverrides[request_host].value", spec: `
metrics:
- overrides:
  - tagOverrides:
      request_host: {operation: UPSERT}`},
		{name: "REMOVE with a value", want: "spec.metrics[0].overrides[0].tagOverrides[request_host].value", spec: `
metrics:
- overrides:
  - tagOverrides:
      request_host: {operation: REMOVE, value: x}`},

		{name: "metrics are not enforced: a warning", warn: "spec.metrics[0]", spec: `
metrics:
- providers: [{name: prometheus}]
  overrides:
  - match: {metric: REQUEST_COUNT}
    disabled: true`},
		{name: "second tracing provider is ignored: a warning", warn: "spec.tracing[0].providers[1]", spec: `
tracing:
- providers: [{name: zipkin}, {name: otel}]`},
		{name: "formatter tags are not enforced: a warning", warn: "spec.tracing[0].customTags.f.formatter", spec: `
tracing:
- customTags:
    f: {formatter: {value: "%REQ(x)%"}}`},
		{name: "gateway target is not enforced: a warning", warn: "spec.targetRefs[0]", spec: `
targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: gw}]
accessLogging: [{providers: [{name: envoy}]}]`},
		{name: "unknown field refused", want: "spec.tracing[0].sampling", spec: `
tracing:
- sampling: 10`},
	})
}
