package v1alpha1

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MeshOperatorSpec is the desired state of a Loom service mesh.
// +kubebuilder:validation:XValidation:rule="!has(self.meshConfig) || !has(self.meshConfig.tracing) || !has(self.meshConfig.tracing.enabled) || !self.meshConfig.tracing.enabled || has(self.meshConfig.tracing.collectorAddress) || (has(self.addons) && has(self.addons.jaeger) && has(self.addons.jaeger.enabled) && self.addons.jaeger.enabled)",message="spec.meshConfig.tracing.collectorAddress is required when tracing is enabled without the Jaeger add-on"
type MeshOperatorSpec struct {
	// Version is the control-plane version to run; the operator ships the versions listed.
	// +kubebuilder:validation:Enum="1.0.0";"1.1.0"
	// +kubebuilder:default="1.1.0"
	// +optional
	Version string `json:"version,omitempty"`

	// Profile is a preset of sizing and availability settings: default; minimal and demo
	// (small resources); production (high availability: 2+ replicas, PodDisruptionBudgets,
	// anti-affinity, autoscaling). Explicit settings override the profile's. Gateways and
	// add-ons are listed explicitly, as in config/samples/mesh_demo.yaml.
	// +kubebuilder:validation:Enum=default;minimal;demo;production
	// +kubebuilder:default=default
	// +optional
	Profile string `json:"profile,omitempty"`

	// Namespace is where the control plane runs, and the default namespace of gateways and
	// add-ons. Only one MeshOperator may own a namespace.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:default=loom-system
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.namespace cannot be changed; create a new MeshOperator for another namespace"
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// ControlPlane configures the control-plane Deployment.
	// +kubebuilder:default={}
	// +optional
	ControlPlane ControlPlaneSpec `json:"controlPlane,omitempty"`

	// MeshConfig is the mesh-wide configuration the control plane reads.
	// +kubebuilder:default={}
	// +optional
	MeshConfig MeshConfigSpec `json:"meshConfig,omitempty"`

	// Security configures workload identities and the mesh certificate authority.
	// +kubebuilder:default={}
	// +optional
	Security SecuritySpec `json:"security,omitempty"`

	// Gateways are the ingress and egress gateways to run.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Gateways []GatewaySpec `json:"gateways,omitempty"`

	// Addons are the observability add-ons the operator installs and owns.
	// +kubebuilder:default={}
	// +optional
	Addons AddonsSpec `json:"addons,omitempty"`

	// UpdateStrategy says how a change of version or settings is rolled out.
	// +kubebuilder:default={}
	// +optional
	UpdateStrategy UpdateStrategy `json:"updateStrategy,omitempty"`

	// Values are free-form overrides passed to each component's chart, validated against
	// the chart's values schema. An escape hatch: prefer the typed fields.
	// +optional
	Values ComponentValues `json:"values,omitempty"`
}

// UpdateStrategyType names how upgrades are rolled out.
// +kubebuilder:validation:Enum=InPlace;RevisionBased
type UpdateStrategyType string

const (
	// InPlace updates the running control plane.
	InPlace UpdateStrategyType = "InPlace"
	// RevisionBased runs a new control-plane revision beside the old one.
	RevisionBased UpdateStrategyType = "RevisionBased"
)

// UpdateStrategy configures upgrades.
type UpdateStrategy struct {
	// Type is InPlace (update the running control plane) or RevisionBased (run the new
	// version as a new revision beside the old; namespaces move to it through the
	// istio.io/rev label; the old revision is removed after the grace period once no
	// workload uses it).
	// +kubebuilder:default=InPlace
	// +optional
	Type UpdateStrategyType `json:"type,omitempty"`

	// ReadinessTimeout is how long a changed component may take to become Ready before the
	// operator rolls back to the last good configuration.
	// +kubebuilder:default="5m0s"
	// +optional
	ReadinessTimeout *metav1.Duration `json:"readinessTimeout,omitempty"`

	// RevisionGracePeriod is how long an unused old revision is kept (RevisionBased only).
	// +kubebuilder:default="1h0m0s"
	// +optional
	RevisionGracePeriod *metav1.Duration `json:"revisionGracePeriod,omitempty"`
}

// ComponentValues holds chart value overrides per component.
type ComponentValues struct {
	// ControlPlane overrides the control-plane chart's values.
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	ControlPlane *apiextensionsv1.JSON `json:"controlPlane,omitempty"`
	// Gateway overrides the values of every gateway's chart.
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	Gateway *apiextensionsv1.JSON `json:"gateway,omitempty"`
	// Prometheus overrides the Prometheus chart's values.
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	Prometheus *apiextensionsv1.JSON `json:"prometheus,omitempty"`
	// Grafana overrides the Grafana chart's values.
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	Grafana *apiextensionsv1.JSON `json:"grafana,omitempty"`
	// Jaeger overrides the Jaeger chart's values.
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	Jaeger *apiextensionsv1.JSON `json:"jaeger,omitempty"`
}

// RemoveIstioCRDsAnnotation, set to "true" on a MeshOperator, makes its uninstall also remove
// the Istio CRDs Loom installed, once no other MeshOperator remains. Users' Istio objects
// are deleted with them, so this is off unless asked for.
const RemoveIstioCRDsAnnotation = "operator.loom.dev/remove-istio-crds"

// MeshOperator installs, upgrades, configures and uninstalls a Loom service mesh.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=mesh;meshes
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.version`
// +kubebuilder:printcolumn:name="Profile",type=string,JSONPath=`.spec.profile`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Degraded",type=string,JSONPath=`.status.conditions[?(@.type=="Degraded")].status`
// +kubebuilder:printcolumn:name="Revision",type=string,JSONPath=`.status.revision`
// +kubebuilder:printcolumn:name="Proxies",type=string,JSONPath=`.status.proxies.summary`
// +kubebuilder:printcolumn:name="Message",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type MeshOperator struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   MeshOperatorSpec   `json:"spec,omitempty"`
	Status MeshOperatorStatus `json:"status,omitempty"`
}

// MeshOperatorList is a list of MeshOperator objects.
// +kubebuilder:object:root=true
type MeshOperatorList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []MeshOperator `json:"items"`
}
