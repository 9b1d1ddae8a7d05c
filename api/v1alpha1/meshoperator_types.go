package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition types reported in MeshOperator status.
const (
	// ConditionReconciled is True when the operator has acted on the latest spec.
	ConditionReconciled = "Reconciled"
)

// MeshOperatorSpec is the desired state of a Loom service mesh.
type MeshOperatorSpec struct {
	// Version is the control-plane version to run.
	// +optional
	Version string `json:"version,omitempty"`

	// Profile selects a preset of settings for the mesh.
	// +kubebuilder:validation:Enum=default;minimal;demo;production
	// +kubebuilder:default=default
	// +optional
	Profile string `json:"profile,omitempty"`

	// Namespace is where the mesh control plane runs.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:default=loom-system
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// MeshOperatorStatus is the observed state of a Loom service mesh.
type MeshOperatorStatus struct {
	// ObservedGeneration is the spec generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions describe the state of the mesh.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// MeshOperator installs, upgrades, configures and uninstalls a Loom service mesh.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=mesh;meshes
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.spec.version`
// +kubebuilder:printcolumn:name="Profile",type=string,JSONPath=`.spec.profile`
// +kubebuilder:printcolumn:name="Reconciled",type=string,JSONPath=`.status.conditions[?(@.type=="Reconciled")].status`
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

func init() {
	SchemeBuilder.Register(&MeshOperator{}, &MeshOperatorList{})
}
