package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Condition types reported in MeshOperator status.
const (
	// ConditionReconciled is True when the operator has applied the latest spec.
	ConditionReconciled = "Reconciled"
	// ConditionReady is True when every component is Ready at the desired version.
	ConditionReady = "Ready"
	// ConditionProgressing is True while components are being installed or upgraded.
	ConditionProgressing = "Progressing"
	// ConditionDegraded is True when a component is unhealthy or an upgrade was rolled back.
	ConditionDegraded = "Degraded"
	// ConditionMeshConfigHonored is False when spec.meshConfig sets a field that takes no
	// effect yet (strict mTLS, say); its message names each such field.
	ConditionMeshConfigHonored = "MeshConfigHonored"
	// ConditionCAReady is True when the control plane's mesh CA has loaded its material and
	// signs; False names the problem (a malformed or expired plugged CA, say) while the last
	// good CA keeps signing.
	ConditionCAReady = "CAReady"
	// ConditionCertificatesExpiring is True when the root or the signing certificate expires
	// within 30 days.
	ConditionCertificatesExpiring = "CertificatesExpiring"
)

// Condition reasons.
const (
	ReasonInstalling         = "Installing"
	ReasonUpgrading          = "Upgrading"
	ReasonReady              = "Ready"
	ReasonUpgradeFailed      = "UpgradeFailed"
	ReasonRolledBack         = "RolledBack"
	ReasonInvalidValues      = "InvalidValues"
	ReasonComponentUnhealthy = "ComponentUnhealthy"
	ReasonNamespaceConflict  = "NamespaceConflict"
	ReasonApplyFailed        = "ApplyFailed"
	ReasonUninstalling       = "Uninstalling"
	// ReasonAllFieldsHonored and ReasonFieldsNotImplemented are MeshConfigHonored's reasons.
	ReasonAllFieldsHonored     = "AllFieldsHonored"
	ReasonFieldsNotImplemented = "FieldsNotImplemented"
)

// ComponentKind names what a component is.
type ComponentKind string

// Component kinds.
const (
	ComponentCRDs         ComponentKind = "CRDs"
	ComponentControlPlane ComponentKind = "ControlPlane"
	ComponentGateway      ComponentKind = "Gateway"
	ComponentAddon        ComponentKind = "Addon"
)

// MeshOperatorStatus is the observed state of a Loom service mesh.
type MeshOperatorStatus struct {
	// ObservedGeneration is the spec generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Reconciled, Ready, Progressing, Degraded and MeshConfigHonored.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Version is the control-plane version running and Ready.
	// +optional
	Version string `json:"version,omitempty"`

	// Revision is the control-plane revision that new workloads use.
	// +optional
	Revision string `json:"revision,omitempty"`

	// Revisions are the control-plane revisions running.
	// +listType=map
	// +listMapKey=name
	// +optional
	Revisions []RevisionStatus `json:"revisions,omitempty"`

	// CA is the state of the mesh certificate authority, as the control plane reports it.
	// +optional
	CA *CAStatus `json:"ca,omitempty"`

	// Proxies are the proxies connected to the control plane and how many are out of date,
	// as its running pods report them.
	// +optional
	Proxies *ProxiesStatus `json:"proxies,omitempty"`

	// Components are the control plane, each gateway and each add-on.
	// +listType=map
	// +listMapKey=name
	// +optional
	Components []ComponentStatus `json:"components,omitempty"`
}

// RevisionStatus describes one control-plane revision.
type RevisionStatus struct {
	// Name of the revision, as in the istio.io/rev label.
	Name string `json:"name"`
	// Version of the control plane this revision runs.
	Version string `json:"version"`
	// Ready is true when the revision's control plane is Ready.
	Ready bool `json:"ready"`
}

// ComponentStatus describes one installed component.
type ComponentStatus struct {
	// Name identifies the component: istio-crds, control-plane, gateway-<name>, addon-<name>.
	Name string `json:"name"`
	// Kind is CRDs, ControlPlane, Gateway or Addon.
	Kind ComponentKind `json:"kind"`
	// Namespace the component runs in.
	Namespace string `json:"namespace"`
	// Version the component runs.
	// +optional
	Version string `json:"version,omitempty"`
	// Ready is true when every workload of the component is available at the desired version.
	Ready bool `json:"ready"`
	// DesiredReplicas is the number of pods the component should run.
	DesiredReplicas int32 `json:"desiredReplicas"`
	// ReadyReplicas is the number of pods ready at the desired version.
	ReadyReplicas int32 `json:"readyReplicas"`
	// Message explains what the component waits for, or why it is unhealthy.
	// +optional
	Message string `json:"message,omitempty"`
}
