package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// MeshConfigSpec is the mesh-wide configuration. The operator writes it to a ConfigMap that
// the control plane reads, and rolls the control plane when it changes. A field set to ask
// for something not built yet is named in the MeshConfigHonored status condition.
type MeshConfigSpec struct {
	// TrustDomain is the SPIFFE trust domain of workload identities: the mesh CA issues
	// spiffe://<trustDomain>/ns/<namespace>/sa/<service account>.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	// +kubebuilder:default=cluster.local
	// +optional
	TrustDomain string `json:"trustDomain,omitempty"`

	// MTLSMode is the mutual TLS mode of workload ports that no PeerAuthentication decides
	// (Istio's semantics: PERMISSIVE accepts mTLS and plaintext, STRICT only mTLS).
	// +kubebuilder:validation:Enum=PERMISSIVE;STRICT
	// +kubebuilder:default=PERMISSIVE
	// +optional
	MTLSMode string `json:"mtlsMode,omitempty"`

	// OutboundTrafficPolicy says whether proxies let traffic reach hosts outside the service
	// registry (ALLOW_ANY) or only registered ones (REGISTRY_ONLY).
	// +kubebuilder:validation:Enum=ALLOW_ANY;REGISTRY_ONLY
	// +kubebuilder:default=ALLOW_ANY
	// +optional
	OutboundTrafficPolicy string `json:"outboundTrafficPolicy,omitempty"`

	// AccessLogging configures proxies' access logs: Envoy sidecars and gateways write them
	// (proxyless gRPC cannot, which loom discovery reports).
	// +kubebuilder:default={}
	// +optional
	AccessLogging AccessLoggingSpec `json:"accessLogging,omitempty"`

	// Tracing configures distributed tracing: Envoy sidecars and gateways send Zipkin spans
	// to the collector (proxyless gRPC cannot, which loom discovery reports).
	// +kubebuilder:default={}
	// +optional
	Tracing TracingSpec `json:"tracing,omitempty"`

	// DefaultTimeout applies to HTTP routes that set none. Zero means no timeout.
	// +optional
	DefaultTimeout *metav1.Duration `json:"defaultTimeout,omitempty"`

	// DefaultRetries applies to HTTP routes that set none.
	// +optional
	DefaultRetries *RetryPolicy `json:"defaultRetries,omitempty"`

	// ExtensionProviders are, with Istio's meaning, the external authorizers (Envoy
	// ext_authz) that CUSTOM AuthorizationPolicies name and the access log and tracing
	// providers that Telemetry objects and defaultProviders name; names are unique.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:XValidation:rule="self.all(p, self.exists_one(q, q.name == p.name))",message="extension provider names must be unique"
	// +optional
	ExtensionProviders []ExtensionProvider `json:"extensionProviders,omitempty"`

	// DefaultProviders are the access log and tracing providers used where no Telemetry
	// object names any, as Istio's defaultProviders.
	// +optional
	DefaultProviders *DefaultProviders `json:"defaultProviders,omitempty"`
}

// AccessLoggingSpec configures access logs.
type AccessLoggingSpec struct {
	// Enabled turns access logs on.
	// +optional
	Enabled bool `json:"enabled,omitempty"`
	// Encoding of each log line.
	// +kubebuilder:validation:Enum=TEXT;JSON
	// +kubebuilder:default=TEXT
	// +optional
	Encoding string `json:"encoding,omitempty"`
	// Path of the log file in the proxy container.
	// +kubebuilder:default="/dev/stdout"
	// +optional
	Path string `json:"path,omitempty"`
}

// TracingSpec configures distributed tracing.
type TracingSpec struct {
	// Enabled turns tracing on.
	// +optional
	Enabled bool `json:"enabled,omitempty"`
	// SamplingPercentage is the percentage of requests traced, from 0 to 100 (e.g. "1", "0.5").
	// +kubebuilder:validation:Pattern=`^(100(\.0+)?|[0-9]{1,2}(\.[0-9]+)?)$`
	// +kubebuilder:default="1"
	// +optional
	SamplingPercentage string `json:"samplingPercentage,omitempty"`
	// CollectorAddress is the host:port of the trace collector (Zipkin or OTLP); defaults to
	// the Jaeger add-on when it is enabled.
	// +kubebuilder:validation:MaxLength=259
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9.-]+:[0-9]{1,5}$`
	// +optional
	CollectorAddress string `json:"collectorAddress,omitempty"`
}

// RetryPolicy is a default retry policy for HTTP routes.
type RetryPolicy struct {
	// Attempts is the number of retries.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10
	Attempts int32 `json:"attempts"`
	// PerTryTimeout bounds each attempt.
	// +optional
	PerTryTimeout *metav1.Duration `json:"perTryTimeout,omitempty"`
	// RetryOn lists the conditions that cause a retry, as in Envoy's x-envoy-retry-on; empty
	// means Istio's default conditions (connect-failure, refused-stream, unavailable, cancelled,
	// retriable-status-codes, with no status code: 503 is not retried, as in Istio 1.24+).
	// +optional
	RetryOn string `json:"retryOn,omitempty"`
}

// ExtensionProvider is one of Istio's MeshConfig extensionProviders: an external
// authorizer that CUSTOM AuthorizationPolicies name in spec.provider.name, or an access
// log or tracing provider that Telemetry objects and defaultProviders name.
// +kubebuilder:validation:XValidation:rule="[has(self.envoyExtAuthzHttp), has(self.envoyExtAuthzGrpc), has(self.envoyFileAccessLog), has(self.envoyOtelAls), has(self.opentelemetry), has(self.zipkin)].filter(k, k).size() == 1",message="exactly one of envoyExtAuthzHttp and envoyExtAuthzGrpc (authorizers), envoyFileAccessLog and envoyOtelAls (access logs), opentelemetry and zipkin (tracing) must be set"
type ExtensionProvider struct {
	// Name is what an AuthorizationPolicy's spec.provider.name, a Telemetry's providers
	// and defaultProviders refer to.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// EnvoyExtAuthzHTTP checks requests with an HTTP authorization service (Envoy ext_authz).
	// +optional
	EnvoyExtAuthzHTTP *ExtAuthzHTTPProvider `json:"envoyExtAuthzHttp,omitempty"`
	// EnvoyExtAuthzGRPC checks requests and TCP connections with a gRPC authorization
	// service (envoy.service.auth.v3.Authorization).
	// +optional
	EnvoyExtAuthzGRPC *ExtAuthzGRPCProvider `json:"envoyExtAuthzGrpc,omitempty"`
	// EnvoyFileAccessLog writes access logs to a file of the proxy container.
	// +optional
	EnvoyFileAccessLog *EnvoyFileAccessLogProvider `json:"envoyFileAccessLog,omitempty"`
	// EnvoyOtelAls sends access logs to an OpenTelemetry collector (OTLP/gRPC).
	// +optional
	EnvoyOtelAls *EnvoyOpenTelemetryLogProvider `json:"envoyOtelAls,omitempty"`
	// OpenTelemetry sends spans to an OpenTelemetry collector (OTLP/gRPC).
	// +optional
	OpenTelemetry *OpenTelemetryTracingProvider `json:"opentelemetry,omitempty"`
	// Zipkin sends spans to a Zipkin collector.
	// +optional
	Zipkin *ZipkinTracingProvider `json:"zipkin,omitempty"`
}

// ExtAuthzService is what both kinds of external authorizer set.
type ExtAuthzService struct {
	// Service is the authorizer's hostname, optionally namespace-qualified:
	// "ext-authz.foo.svc.cluster.local" or "foo/ext-authz.foo.svc.cluster.local". A
	// ServiceEntry host works too.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=317
	Service string `json:"service"`
	// Port of the authorizer's service.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port"`
	// Timeout of each check; 600s if unset (Istio's default).
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// FailOpen lets a request through when the authorizer cannot be reached or fails.
	// +optional
	FailOpen bool `json:"failOpen,omitempty"`
	// StatusOnError is the HTTP status returned when the authorizer cannot be reached or
	// fails (and failOpen is false); Envoy's default is 403.
	// +kubebuilder:validation:Pattern=`^[1-5][0-9][0-9]$`
	// +optional
	StatusOnError string `json:"statusOnError,omitempty"`
	// IncludeRequestBodyInCheck sends the buffered request body in the check.
	// +optional
	IncludeRequestBodyInCheck *ExtAuthzRequestBody `json:"includeRequestBodyInCheck,omitempty"`
}

// ExtAuthzHTTPProvider is an HTTP external authorizer: Envoy sends the check as an HTTP
// request to the service, and a 200 response allows.
type ExtAuthzHTTPProvider struct {
	ExtAuthzService `json:",inline"`
	// PathPrefix is prepended to the path of the check request.
	// +kubebuilder:validation:Pattern=`^/`
	// +optional
	PathPrefix string `json:"pathPrefix,omitempty"`
	// IncludeRequestHeadersInCheck are the client headers sent in the check besides Host,
	// Method, Path and Content-Length; "abc*" and "*abc" match by prefix and suffix.
	// +optional
	IncludeRequestHeadersInCheck []string `json:"includeRequestHeadersInCheck,omitempty"`
	// IncludeAdditionalHeadersInCheck are fixed headers added to the check request; they
	// replace client headers of the same name.
	// +optional
	IncludeAdditionalHeadersInCheck map[string]string `json:"includeAdditionalHeadersInCheck,omitempty"`
	// HeadersToUpstreamOnAllow are the authorizer's response headers added to (or replacing
	// those of) the request sent upstream when it allows.
	// +optional
	HeadersToUpstreamOnAllow []string `json:"headersToUpstreamOnAllow,omitempty"`
	// HeadersToDownstreamOnDeny are the authorizer's response headers sent to the client
	// when it denies.
	// +optional
	HeadersToDownstreamOnDeny []string `json:"headersToDownstreamOnDeny,omitempty"`
	// HeadersToDownstreamOnAllow are the authorizer's response headers added to the
	// response sent to the client when it allows.
	// +optional
	HeadersToDownstreamOnAllow []string `json:"headersToDownstreamOnAllow,omitempty"`
}

// ExtAuthzGRPCProvider is a gRPC external authorizer (envoy.service.auth.v3.Authorization);
// it also checks TCP connections.
type ExtAuthzGRPCProvider struct {
	ExtAuthzService `json:",inline"`
}

// ExtAuthzRequestBody says how much of the request body is sent in the check.
type ExtAuthzRequestBody struct {
	// MaxRequestBytes buffered before the check; a larger body gets 413 unless
	// allowPartialMessage is set.
	// +kubebuilder:validation:Minimum=0
	// +optional
	MaxRequestBytes int32 `json:"maxRequestBytes,omitempty"`
	// AllowPartialMessage sends the first maxRequestBytes of a larger body.
	// +optional
	AllowPartialMessage bool `json:"allowPartialMessage,omitempty"`
	// PackAsBytes sends the body as raw bytes (gRPC only) instead of a UTF-8 string.
	// +optional
	PackAsBytes bool `json:"packAsBytes,omitempty"`
}
