package translate

import (
	"maps"
	"slices"
	"strings"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tracev3 "github.com/envoyproxy/go-control-plane/envoy/config/trace/v3"
	filev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	grpcalsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/grpc/v3"
	otelalsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/open_telemetry/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	reqwithoutqueryv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/formatter/req_without_query/v3"
	resourcedetectorsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/tracers/opentelemetry/resource_detectors/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	otlpcommon "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	meshconfig "istio.io/api/mesh/v1alpha1"

	"loom.dev/loom/pkg/model"
)

// Envoy extension names of the telemetry extension providers, as Istio
// writes them.
const (
	otelAccessLogName           = "envoy.access_loggers.open_telemetry"
	otelTracerName              = "envoy.tracers.opentelemetry"
	reqWithoutQueryFormatter    = "envoy.formatter.req_without_query"
	environmentResourceDetector = "envoy.tracers.opentelemetry.resource_detectors.environment"
	dynatraceResourceDetector   = "envoy.tracers.opentelemetry.resource_detectors.dynatrace"
	// otelDefaultLogName is Istio's log name of an envoyOtelAls provider
	// that sets none.
	otelDefaultLogName = "otel_envoy_accesslog"
	defaultLogPath     = "/dev/stdout"
)

// otelFilterStateToLog are the filter state objects Istio's OpenTelemetry
// access logs carry (the peer metadata of Istio's proxies; absent, and so
// not logged, on upstream Envoy).
var otelFilterStateToLog = []string{"upstream_peer", "downstream_peer",
	"wasm.upstream_peer", "wasm.upstream_peer_id", "wasm.downstream_peer", "wasm.downstream_peer_id"}

// extensionAccessLog is an access log extension provider's logger; target
// is the resolved service of an envoyOtelAls provider.
func extensionAccessLog(ep *model.ExtensionProvider, target providerTarget) *accesslogv3.AccessLog {
	if f := ep.GetEnvoyFileAccessLog(); f != nil {
		return &accesslogv3.AccessLog{Name: fileAccessLogName, ConfigType: &accesslogv3.AccessLog_TypedConfig{TypedConfig: anyOf(fileProviderLog(f))}}
	}
	o := ep.GetEnvoyOtelAls()
	logName := o.GetLogName()
	if logName == "" {
		logName = otelDefaultLogName
	}
	format := istioTextLogFormat
	if t := o.GetLogFormat().GetText(); t != "" {
		format = t
	}
	cfg := &otelalsv3.OpenTelemetryAccessLogConfig{
		//nolint:staticcheck // Istio writes common_config: Envoys before 1.36 lack its replacement (grpc_service, log_name).
		CommonConfig: &grpcalsv3.CommonGrpcAccessLogConfig{
			LogName:                 logName,
			GrpcService:             envoyGrpcService(target),
			TransportApiVersion:     corev3.ApiVersion_V3,
			FilterStateObjectsToLog: otelFilterStateToLog,
		},
		DisableBuiltinLabels: true,
		Body:                 &otlpcommon.AnyValue{Value: &otlpcommon.AnyValue_StringValue{StringValue: format}},
		Formatters:           formatters(format, o.GetLogFormat().GetLabels()),
	}
	if labels := o.GetLogFormat().GetLabels().GetFields(); len(labels) > 0 {
		cfg.Attributes = &otlpcommon.KeyValueList{}
		for _, k := range slices.Sorted(maps.Keys(labels)) {
			cfg.Attributes.Values = append(cfg.Attributes.Values, &otlpcommon.KeyValue{Key: k,
				Value: &otlpcommon.AnyValue{Value: &otlpcommon.AnyValue_StringValue{StringValue: labels[k].GetStringValue()}}})
		}
	}
	return &accesslogv3.AccessLog{Name: otelAccessLogName, ConfigType: &accesslogv3.AccessLog_TypedConfig{TypedConfig: anyOf(cfg)}}
}

// fileProviderLog is Istio's file access log of an envoyFileAccessLog
// provider: its path (/dev/stdout if unset) in its text format (a newline
// added), as JSON with its labels, or in Istio's default text format.
func fileProviderLog(f *meshconfig.MeshConfig_ExtensionProvider_EnvoyFileAccessLogProvider) *filev3.FileAccessLog {
	path := f.GetPath()
	if path == "" {
		path = defaultLogPath
	}
	format := &corev3.SubstitutionFormatString{}
	switch lf := f.GetLogFormat().GetLogFormat().(type) {
	case *meshconfig.MeshConfig_ExtensionProvider_EnvoyFileAccessLogProvider_LogFormat_Labels:
		labels := lf.Labels
		if len(labels.GetFields()) == 0 {
			labels, _ = structpb.NewStruct(istioJSONLogFields) // only strings: cannot fail
		}
		format.Format = &corev3.SubstitutionFormatString_JsonFormat{JsonFormat: labels}
		format.Formatters = formatters("", labels)
	default:
		text := istioTextLogFormat
		if t := f.GetLogFormat().GetText(); t != "" {
			text = t
			if !strings.HasSuffix(text, "\n") {
				text += "\n" // Istio adds the newline a format lacks
			}
		}
		format.Format = &corev3.SubstitutionFormatString_TextFormatSource{TextFormatSource: &corev3.DataSource{
			Specifier: &corev3.DataSource_InlineString{InlineString: text}}}
		format.Formatters = formatters(text, nil)
	}
	return &filev3.FileAccessLog{Path: path, AccessLogFormat: &filev3.FileAccessLog_LogFormat{LogFormat: format}}
}

// formatters are the formatter extensions a format needs: Envoy parses
// %REQ_WITHOUT_QUERY(…)% only with its extension loaded.
func formatters(text string, labels *structpb.Struct) []*corev3.TypedExtensionConfig {
	uses := strings.Contains(text, "%REQ_WITHOUT_QUERY")
	for _, v := range labels.GetFields() {
		uses = uses || strings.Contains(v.GetStringValue(), "%REQ_WITHOUT_QUERY")
	}
	if !uses {
		return nil
	}
	return []*corev3.TypedExtensionConfig{{Name: reqWithoutQueryFormatter, TypedConfig: anyOf(&reqwithoutqueryv3.ReqWithoutQuery{})}}
}

func envoyGrpcService(target providerTarget) *corev3.GrpcService {
	return &corev3.GrpcService{TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{
		ClusterName: target.cluster, Authority: target.host}}}
}

// extensionTracing traces requests with a tracing extension provider, as
// Istio configures it: sampling as the built-in provider's, the provider's
// maxTagLength, and an upstream span of its own on gateways.
func extensionTracing(pt *model.ProxyTracing, target providerTarget, serviceName string, gateway bool) *hcmv3.HttpConnectionManager_Tracing {
	ep := pt.Ext
	out := &hcmv3.HttpConnectionManager_Tracing{
		ClientSampling:  &typev3.Percent{Value: 100},
		RandomSampling:  &typev3.Percent{Value: pt.SamplingPercentage},
		OverallSampling: &typev3.Percent{Value: 100},
		CustomTags:      customTags(pt.CustomTags),
	}
	if gateway {
		out.SpawnUpstreamSpan = wrapperspb.Bool(true)
	}
	var maxTag uint32
	if z := ep.GetZipkin(); z != nil {
		maxTag = z.GetMaxTagLength()
		path := z.GetPath()
		if path == "" {
			path = zipkinSpansPath
		}
		cfg := &tracev3.ZipkinConfig{
			CollectorCluster:         target.cluster,
			CollectorEndpoint:        path,
			CollectorHostname:        target.host,
			CollectorEndpointVersion: tracev3.ZipkinConfig_HTTP_JSON,
			TraceId_128Bit:           !z.GetEnable_64BitTraceId(),
			SharedSpanContext:        wrapperspb.Bool(false),
		}
		if z.GetTraceContextOption() == meshconfig.MeshConfig_ExtensionProvider_ZipkinTracingProvider_USE_B3_WITH_W3C_PROPAGATION {
			cfg.TraceContextOption = tracev3.ZipkinConfig_USE_B3_WITH_W3C_PROPAGATION
		}
		out.Provider = &tracev3.Tracing_Http{Name: zipkinTracerName, ConfigType: &tracev3.Tracing_Http_TypedConfig{TypedConfig: anyOf(cfg)}}
	} else {
		o := ep.GetOpentelemetry()
		maxTag = o.GetMaxTagLength()
		cfg := &tracev3.OpenTelemetryConfig{GrpcService: envoyGrpcService(target), ServiceName: serviceName}
		if o.GetResourceDetectors().GetEnvironment() != nil {
			cfg.ResourceDetectors = append(cfg.ResourceDetectors, &corev3.TypedExtensionConfig{Name: environmentResourceDetector,
				TypedConfig: anyOf(&resourcedetectorsv3.EnvironmentResourceDetectorConfig{})})
		}
		if o.GetResourceDetectors().GetDynatrace() != nil {
			cfg.ResourceDetectors = append(cfg.ResourceDetectors, &corev3.TypedExtensionConfig{Name: dynatraceResourceDetector,
				TypedConfig: anyOf(&resourcedetectorsv3.DynatraceResourceDetectorConfig{})})
		}
		out.Provider = &tracev3.Tracing_Http{Name: otelTracerName, ConfigType: &tracev3.Tracing_Http_TypedConfig{TypedConfig: anyOf(cfg)}}
	}
	if maxTag != 0 {
		out.MaxPathTagLength = wrapperspb.UInt32(maxTag)
	}
	return out
}

// tracingServiceName is the service name an OpenTelemetry span carries:
// Istio's service cluster, "<canonical service>.<namespace>".
func tracingServiceName(p model.Proxy) string {
	name := p.Labels["service.istio.io/canonical-name"]
	for _, l := range []string{"app.kubernetes.io/name", "app"} {
		if name == "" {
			name = p.Labels[l]
		}
	}
	if name == "" {
		name = "istio-proxy"
	}
	return name + "." + p.Namespace
}
