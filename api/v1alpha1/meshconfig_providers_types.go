package v1alpha1

import apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

// DefaultProviders names the extension providers that apply when no Telemetry object
// names any, with Istio's meaning (metrics are not supported).
type DefaultProviders struct {
	// AccessLogging are the access log providers every Envoy proxy uses by default.
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MinLength=1
	// +optional
	AccessLogging []string `json:"accessLogging,omitempty"`
	// Tracing is the tracing provider used by default; Envoy traces with one provider,
	// so only the first name counts, as in Istio.
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MinLength=1
	// +optional
	Tracing []string `json:"tracing,omitempty"`
}

// ProviderService is the service a telemetry provider sends to.
type ProviderService struct {
	// Service is the provider's hostname, optionally namespace-qualified:
	// "otel-collector.observability.svc.cluster.local" or
	// "observability/otel-collector.observability.svc.cluster.local". A ServiceEntry
	// host works too; the proxy must have a cluster for it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=317
	Service string `json:"service"`
	// Port of the provider's service.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port"`
}

// EnvoyFileAccessLogProvider writes Envoy's access log to a file of the proxy container.
type EnvoyFileAccessLogProvider struct {
	// Path of the log file; /dev/stdout if unset.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Path string `json:"path,omitempty"`
	// LogFormat is the format of each line; Istio's default text format if unset.
	// +optional
	LogFormat *FileAccessLogFormat `json:"logFormat,omitempty"`
}

// FileAccessLogFormat is a file access log's format: text or JSON labels.
// +kubebuilder:validation:XValidation:rule="has(self.text) != has(self.labels)",message="exactly one of text and labels must be set"
type FileAccessLogFormat struct {
	// Text is an Envoy format string ("%START_TIME% %REQ(:METHOD)%"); a newline is added
	// if missing.
	// +kubebuilder:validation:MinLength=1
	// +optional
	Text string `json:"text,omitempty"`
	// Labels make each line a JSON object: keys are the fields, values Envoy format
	// strings (nested JSON allowed); empty means Istio's default JSON fields.
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	Labels *apiextensionsv1.JSON `json:"labels,omitempty"`
}

// EnvoyOpenTelemetryLogProvider sends access logs to an OpenTelemetry collector over
// OTLP/gRPC (Envoy's OpenTelemetry access logger).
type EnvoyOpenTelemetryLogProvider struct {
	ProviderService `json:",inline"`
	// LogName is the log's name in the collector; "otel_envoy_accesslog" if unset.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	LogName string `json:"logName,omitempty"`
	// LogFormat is the log record's body and attributes.
	// +optional
	LogFormat *OpenTelemetryLogFormat `json:"logFormat,omitempty"`
}

// OpenTelemetryLogFormat is an OpenTelemetry log record's body (text) and attributes (labels).
type OpenTelemetryLogFormat struct {
	// Text is the record's body, an Envoy format string; Istio's default text format if unset.
	// +optional
	Text string `json:"text,omitempty"`
	// Labels are the record's attributes: keys are attribute names, values Envoy format
	// strings.
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	Labels *apiextensionsv1.JSON `json:"labels,omitempty"`
}

// OpenTelemetryTracingProvider sends spans to an OpenTelemetry collector over OTLP/gRPC
// (Envoy's OpenTelemetry tracer).
type OpenTelemetryTracingProvider struct {
	ProviderService `json:",inline"`
	// MaxTagLength bounds the length of the path tag of a span; Envoy's default (256) if
	// unset.
	// +kubebuilder:validation:Minimum=0
	// +optional
	MaxTagLength int32 `json:"maxTagLength,omitempty"`
	// ResourceDetectors add resource attributes to every span.
	// +optional
	ResourceDetectors *OpenTelemetryResourceDetectors `json:"resourceDetectors,omitempty"`
}

// OpenTelemetryResourceDetectors are Envoy's OpenTelemetry resource detectors.
type OpenTelemetryResourceDetectors struct {
	// Environment reads attributes from OTEL_RESOURCE_ATTRIBUTES in the proxy's environment.
	// +optional
	Environment *EmptyDetector `json:"environment,omitempty"`
	// Dynatrace reads the attributes Dynatrace's OneAgent writes on the node.
	// +optional
	Dynatrace *EmptyDetector `json:"dynatrace,omitempty"`
}

// EmptyDetector is a resource detector without settings: setting it ({}) turns it on.
type EmptyDetector struct{}

// ZipkinTracingProvider sends spans to a Zipkin collector (Envoy's Zipkin tracer, JSON v2).
type ZipkinTracingProvider struct {
	ProviderService `json:",inline"`
	// MaxTagLength bounds the length of the path tag of a span; Envoy's default (256) if
	// unset.
	// +kubebuilder:validation:Minimum=0
	// +optional
	MaxTagLength int32 `json:"maxTagLength,omitempty"`
	// Enable64BitTraceID uses 64-bit trace ids instead of 128-bit ones.
	// +optional
	Enable64BitTraceID bool `json:"enable64bitTraceId,omitempty"`
	// Path of the collector's span endpoint; "/api/v2/spans" if unset.
	// +kubebuilder:validation:Pattern=`^/`
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Path string `json:"path,omitempty"`
	// TraceContextOption is which trace headers are read and sent: USE_B3 (B3 only, the
	// default) or USE_B3_WITH_W3C_PROPAGATION (B3 first, then W3C traceparent; both sent).
	// +kubebuilder:validation:Enum=USE_B3;USE_B3_WITH_W3C_PROPAGATION
	// +optional
	TraceContextOption string `json:"traceContextOption,omitempty"`
}
