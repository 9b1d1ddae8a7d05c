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
