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
	// PrometheusOperator has the Prometheus Operator (kube-prometheus-stack, say) scrape the
	// mesh: PodMonitors for the control plane, the operator and every proxy, and a
	// PrometheusRule with Loom's rules. It is independent of the Prometheus add-on.
	// +kubebuilder:default={}
	// +optional
	PrometheusOperator PrometheusOperatorSpec `json:"prometheusOperator,omitempty"`
}

// PrometheusOperatorMode says when the operator creates the Prometheus Operator's objects.
// +kubebuilder:validation:Enum=Auto;Enabled;Disabled
type PrometheusOperatorMode string

// Prometheus Operator modes.
const (
	// PrometheusOperatorAuto creates the objects when the monitoring.coreos.com/v1 CRDs
	// (PodMonitor, ServiceMonitor, PrometheusRule) are installed, and nothing otherwise.
	PrometheusOperatorAuto PrometheusOperatorMode = "Auto"
	// PrometheusOperatorEnabled creates the objects, and reports the mesh not Ready while
	// the CRDs are missing.
	PrometheusOperatorEnabled PrometheusOperatorMode = "Enabled"
	// PrometheusOperatorDisabled never creates them, and removes those created before.
	PrometheusOperatorDisabled PrometheusOperatorMode = "Disabled"
)

// PrometheusOperatorSpec configures the Prometheus Operator's objects.
type PrometheusOperatorSpec struct {
	// Mode: Auto (the default) creates the objects when the Prometheus Operator's CRDs exist,
	// Enabled always (the mesh is not Ready without the CRDs), Disabled never.
	// +kubebuilder:default=Auto
	// +optional
	Mode PrometheusOperatorMode `json:"mode,omitempty"`
	// Labels are put on every object, for the Prometheus's podMonitorSelector and
	// ruleSelector: kube-prometheus-stack selects release: <its Helm release name>.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
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
