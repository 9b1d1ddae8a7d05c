package meshsettings

import (
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	meshconfig "istio.io/api/mesh/v1alpha1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/pkg/model"
)

// setTelemetryProvider sets ep to an access log or tracing extension
// provider p in Istio's MeshConfig form; ep keeps no kind when p is of no
// such kind (or its labels are not a JSON object, which the API's schema
// refuses): the model then reports the Telemetry objects naming it.
func setTelemetryProvider(ep *model.ExtensionProvider, p v1alpha1.ExtensionProvider) {
	switch {
	case p.EnvoyFileAccessLog != nil:
		f := p.EnvoyFileAccessLog
		out := &meshconfig.MeshConfig_ExtensionProvider_EnvoyFileAccessLogProvider{Path: f.Path}
		if lf := f.LogFormat; lf != nil {
			if lf.Labels != nil {
				labels, ok := jsonStruct(lf.Labels)
				if !ok {
					return
				}
				out.LogFormat = &meshconfig.MeshConfig_ExtensionProvider_EnvoyFileAccessLogProvider_LogFormat{
					LogFormat: &meshconfig.MeshConfig_ExtensionProvider_EnvoyFileAccessLogProvider_LogFormat_Labels{Labels: labels}}
			} else {
				out.LogFormat = &meshconfig.MeshConfig_ExtensionProvider_EnvoyFileAccessLogProvider_LogFormat{
					LogFormat: &meshconfig.MeshConfig_ExtensionProvider_EnvoyFileAccessLogProvider_LogFormat_Text{Text: lf.Text}}
			}
		}
		ep.Provider = &meshconfig.MeshConfig_ExtensionProvider_EnvoyFileAccessLog{EnvoyFileAccessLog: out}
	case p.EnvoyOtelAls != nil:
		o := p.EnvoyOtelAls
		out := &meshconfig.MeshConfig_ExtensionProvider_EnvoyOpenTelemetryLogProvider{
			Service: o.Service, Port: uint32(max(o.Port, 0)), LogName: o.LogName}
		if lf := o.LogFormat; lf != nil {
			out.LogFormat = &meshconfig.MeshConfig_ExtensionProvider_EnvoyOpenTelemetryLogProvider_LogFormat{Text: lf.Text}
			if lf.Labels != nil {
				labels, ok := jsonStruct(lf.Labels)
				if !ok {
					return
				}
				out.LogFormat.Labels = labels
			}
		}
		ep.Provider = &meshconfig.MeshConfig_ExtensionProvider_EnvoyOtelAls{EnvoyOtelAls: out}
	case p.OpenTelemetry != nil:
		o := p.OpenTelemetry
		out := &meshconfig.MeshConfig_ExtensionProvider_OpenTelemetryTracingProvider{
			Service: o.Service, Port: uint32(max(o.Port, 0)), MaxTagLength: uint32(max(o.MaxTagLength, 0))}
		if rd := o.ResourceDetectors; rd != nil {
			out.ResourceDetectors = &meshconfig.MeshConfig_ExtensionProvider_ResourceDetectors{}
			if rd.Environment != nil {
				out.ResourceDetectors.Environment = &meshconfig.MeshConfig_ExtensionProvider_ResourceDetectors_EnvironmentResourceDetector{}
			}
			if rd.Dynatrace != nil {
				out.ResourceDetectors.Dynatrace = &meshconfig.MeshConfig_ExtensionProvider_ResourceDetectors_DynatraceResourceDetector{}
			}
		}
		ep.Provider = &meshconfig.MeshConfig_ExtensionProvider_Opentelemetry{Opentelemetry: out}
	case p.Zipkin != nil:
		z := p.Zipkin
		out := &meshconfig.MeshConfig_ExtensionProvider_ZipkinTracingProvider{
			Service: z.Service, Port: uint32(max(z.Port, 0)), MaxTagLength: uint32(max(z.MaxTagLength, 0)),
			Enable_64BitTraceId: z.Enable64BitTraceID, Path: z.Path}
		if z.TraceContextOption == "USE_B3_WITH_W3C_PROPAGATION" {
			out.TraceContextOption = meshconfig.MeshConfig_ExtensionProvider_ZipkinTracingProvider_USE_B3_WITH_W3C_PROPAGATION
		}
		ep.Provider = &meshconfig.MeshConfig_ExtensionProvider_Zipkin{Zipkin: out}
	}
}

// jsonStruct is a labels object as a protobuf Struct.
func jsonStruct(j *apiextensionsv1.JSON) (*structpb.Struct, bool) {
	var s structpb.Struct
	if err := protojson.Unmarshal(j.Raw, &s); err != nil {
		return nil, false
	}
	return &s, true
}

// defaultProviders converts the mesh config's defaultProviders.
func defaultProviders(mc *v1alpha1.MeshConfigSpec) model.DefaultProviders {
	if mc.DefaultProviders == nil {
		return model.DefaultProviders{}
	}
	return model.DefaultProviders{AccessLogging: mc.DefaultProviders.AccessLogging, Tracing: mc.DefaultProviders.Tracing}
}
