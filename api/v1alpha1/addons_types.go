package v1alpha1

import "k8s.io/apimachinery/pkg/api/resource"

// AddonsSpec selects the observability add-ons.
type AddonsSpec struct {
	// Prometheus scrapes the control plane and the proxies.
	// +kubebuilder:default={}
	// +optional
	Prometheus PrometheusSpec `json:"prometheus,omitempty"`
	// Grafana shows the mesh dashboards, reading from Prometheus.
	// +kubebuilder:default={}
	// +optional
	Grafana GrafanaSpec `json:"grafana,omitempty"`
	// Jaeger collects and shows traces.
	// +kubebuilder:default={}
	// +optional
	Jaeger JaegerSpec `json:"jaeger,omitempty"`
}

// PrometheusSpec configures the Prometheus add-on.
type PrometheusSpec struct {
	// Enabled installs Prometheus.
	// +optional
	Enabled bool `json:"enabled,omitempty"`
	// Retention is how long samples are kept, in Prometheus duration syntax.
	// +kubebuilder:validation:Pattern=`^[0-9]+(ms|s|m|h|d|w|y)$`
	// +kubebuilder:default="15d"
	// +optional
	Retention string `json:"retention,omitempty"`
	// Storage is a PersistentVolumeClaim for samples; an emptyDir when unset.
	// +optional
	Storage *StorageSpec `json:"storage,omitempty"`
}

// StorageSpec asks for a PersistentVolumeClaim.
type StorageSpec struct {
	// Size of the volume.
	Size resource.Quantity `json:"size"`
	// StorageClassName of the claim; the cluster default when unset.
	// +optional
	StorageClassName *string `json:"storageClassName,omitempty"`
}

// GrafanaSpec configures the Grafana add-on.
// +kubebuilder:validation:XValidation:rule="!has(self.enabled) || !self.enabled || has(self.adminCredentialsSecretRef)",message="adminCredentialsSecretRef is required when Grafana is enabled"
type GrafanaSpec struct {
	// Enabled installs Grafana.
	// +optional
	Enabled bool `json:"enabled,omitempty"`
	// AdminCredentialsSecretRef names a Secret in spec.namespace with keys admin-user and
	// admin-password.
	// +optional
	AdminCredentialsSecretRef *SecretReference `json:"adminCredentialsSecretRef,omitempty"`
}

// SecretReference names a Secret in the mesh namespace.
type SecretReference struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// JaegerSpec configures the Jaeger add-on.
type JaegerSpec struct {
	// Enabled installs Jaeger and points mesh tracing at it unless
	// meshConfig.tracing.collectorAddress says otherwise.
	// +optional
	Enabled bool `json:"enabled,omitempty"`
	// MaxTraces bounds the traces kept in memory.
	// +kubebuilder:validation:Minimum=1000
	// +kubebuilder:default=50000
	// +optional
	MaxTraces int32 `json:"maxTraces,omitempty"`
}
