package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Condition types reported in MeshRevision status.
const (
	// ConditionInUse is True while a namespace or a workload pod carries the revision's
	// istio.io/rev label.
	ConditionInUse = "InUse"
)

// MeshRevision condition reasons (Ready also uses ReasonReady).
const (
	ReasonNotReady      = "NotReady"
	ReasonPending       = "Pending"
	ReasonReferenced    = "Referenced"
	ReasonNotReferenced = "NotReferenced"
)

// MeshRevisionSpec is what one control-plane revision of a mesh runs. The operator writes it.
type MeshRevisionSpec struct {
	// Mesh is the MeshOperator the revision belongs to.
	Mesh string `json:"mesh"`
	// Revision is the revision's name, as in the istio.io/rev label ("default" for in-place
	// updates).
	Revision string `json:"revision"`
	// Version of the control plane the revision runs.
	Version string `json:"version"`
	// SpecHash identifies MeshSpec.
	SpecHash string `json:"specHash"`
	// MeshSpec is the MeshOperator spec the revision's control plane is rendered from.
	MeshSpec MeshOperatorSpec `json:"meshSpec"`
}

// MeshRevisionStatus is the observed state of a control-plane revision.
type MeshRevisionStatus struct {
	// ObservedGeneration is the spec generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready (the revision's control plane is Ready) and InUse.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Namespaces is how many namespaces carry the revision's istio.io/rev label.
	// +optional
	Namespaces int32 `json:"namespaces"`

	// Workloads is how many workload pods (not Loom's own) carry the revision's label.
	// +optional
	Workloads int32 `json:"workloads"`

	// UnusedSince is when the revision was first seen unused; a revision that is not the
	// mesh's current one is removed once unused for spec.updateStrategy.revisionGracePeriod.
	// +optional
	UnusedSince *metav1.Time `json:"unusedSince,omitempty"`

	// LastGoodSpecHash is the specHash of the newest spec under which the revision was Ready;
	// empty while it has never been.
	// +optional
	LastGoodSpecHash string `json:"lastGoodSpecHash,omitempty"`
}

// MeshRevision is one control-plane revision of a mesh, created and removed by the operator:
// the current revision and those kept running for the workloads that still use them.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=meshrev;meshrevs
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.spec.version`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="In use",type=string,JSONPath=`.status.conditions[?(@.type=="InUse")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type MeshRevision struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   MeshRevisionSpec   `json:"spec,omitempty"`
	Status MeshRevisionStatus `json:"status,omitempty"`
}

// MeshRevisionList is a list of MeshRevision objects.
// +kubebuilder:object:root=true
type MeshRevisionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []MeshRevision `json:"items"`
}
