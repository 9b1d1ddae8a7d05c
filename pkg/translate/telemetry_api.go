package translate

import (
	"maps"
	"slices"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	celv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/filters/cel/v3"
	tracingv3 "github.com/envoyproxy/go-control-plane/envoy/type/tracing/v3"
	telemetry "istio.io/api/telemetry/v1alpha1"

	"loom.dev/loom/pkg/model"
)

// celFilterName is Envoy's CEL access log filter, which Istio's
// accessLogging filter expressions become.
const celFilterName = "envoy.access_loggers.extension_filters.cel"

// providerAccessLog is one provider's access log (the built-in file log
// or an extension provider's), logging only the requests and connections
// its filter expression matches.
func providerAccessLog(a model.ProviderAccessLog, ctx proxyTelemetryContext) *accesslogv3.AccessLog {
	var log *accesslogv3.AccessLog
	if a.Ext != nil {
		log = extensionAccessLog(a.Ext, ctx.targets[a.Ext])
	} else {
		log = fileAccessLog(&a.Log)
	}
	if a.Filter != "" {
		log.Filter = &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_ExtensionFilter{
			ExtensionFilter: &accesslogv3.ExtensionFilter{Name: celFilterName,
				ConfigType: &accesslogv3.ExtensionFilter_TypedConfig{TypedConfig: anyOf(&celv3.ExpressionFilter{Expression: a.Filter})}},
		}}
	}
	return log
}

// customTags turns Telemetry custom tags into Envoy's, sorted by tag;
// formatter tags and tags Envoy would reject (an empty name or value)
// are left out; the model reports them.
func customTags(tags map[string]*telemetry.Tracing_CustomTag) []*tracingv3.CustomTag {
	var out []*tracingv3.CustomTag
	for _, name := range slices.Sorted(maps.Keys(tags)) {
		tag := &tracingv3.CustomTag{Tag: name}
		switch t := tags[name].GetType().(type) {
		case *telemetry.Tracing_CustomTag_Literal:
			tag.Type = &tracingv3.CustomTag_Literal_{Literal: &tracingv3.CustomTag_Literal{Value: t.Literal.GetValue()}}
		case *telemetry.Tracing_CustomTag_Environment:
			tag.Type = &tracingv3.CustomTag_Environment_{Environment: &tracingv3.CustomTag_Environment{
				Name: t.Environment.GetName(), DefaultValue: t.Environment.GetDefaultValue()}}
		case *telemetry.Tracing_CustomTag_Header:
			tag.Type = &tracingv3.CustomTag_RequestHeader{RequestHeader: &tracingv3.CustomTag_Header{
				Name: t.Header.GetName(), DefaultValue: t.Header.GetDefaultValue()}}
		default:
			continue
		}
		if tag.ValidateAll() != nil {
			continue // an empty name or value: the model reports it
		}
		out = append(out, tag)
	}
	return out
}
