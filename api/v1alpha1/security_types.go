package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// CAMode names where workload certificates come from.
// +kubebuilder:validation:Enum=SelfSigned;Plugged;CertManager
type CAMode string

const (
	// CASelfSigned: the control plane generates a root once into a Secret in the mesh
	// namespace and signs workload certificates with an intermediate it holds.
	CASelfSigned CAMode = "SelfSigned"
	// CAPlugged: the control plane signs with the user's CA from a Secret with Istio's key
	// names (ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem).
	CAPlugged CAMode = "Plugged"
	// CACertManager: each workload certificate is requested from a cert-manager issuer as a
	// CertificateRequest in the mesh namespace.
	CACertManager CAMode = "CertManager"
)

// DefaultPluggedCASecret is the Secret Istio reads a plugged CA from.
const DefaultPluggedCASecret = "cacerts"

// SecuritySpec configures the mesh's workload identities.
type SecuritySpec struct {
	// CA configures the mesh certificate authority.
	// +kubebuilder:default={}
	// +optional
	CA CASpec `json:"ca,omitempty"`
}

// CASpec configures the mesh certificate authority in the control plane. It signs
// certificates for the identity spiffe://<trust domain>/ns/<namespace>/sa/<service account>
// of the caller's ServiceAccount token, through Istio's CSR API on port 15012.
// +kubebuilder:validation:XValidation:rule="!has(self.plugged) || (has(self.mode) && self.mode == 'Plugged')",message="spec.security.ca.plugged is set only with mode Plugged"
// +kubebuilder:validation:XValidation:rule="has(self.certManager) == (has(self.mode) && self.mode == 'CertManager')",message="spec.security.ca.certManager is set exactly when mode is CertManager"
type CASpec struct {
	// Mode is SelfSigned (a root generated once into the Secret loom-ca in the mesh
	// namespace and kept while that Secret exists), Plugged (the user's CA from a Secret in
	// the mesh namespace with Istio's cacerts key names) or CertManager (certificates from a
	// cert-manager issuer).
	// +kubebuilder:default=SelfSigned
	// +optional
	Mode CAMode `json:"mode,omitempty"`

	// Plugged names the Secret of mode Plugged.
	// +optional
	Plugged *PluggedCASpec `json:"plugged,omitempty"`

	// CertManager names the issuer of mode CertManager.
	// +optional
	CertManager *CertManagerCASpec `json:"certManager,omitempty"`

	// WorkloadCertTTL is the lifetime of workload certificates (agents renew them at half
	// their life). From 1 minute to 90 days.
	// +kubebuilder:default="24h0m0s"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m') && duration(self) <= duration('2160h')",message="spec.security.ca.workloadCertTTL must be between 1m and 2160h (90 days)"
	// +optional
	WorkloadCertTTL *metav1.Duration `json:"workloadCertTTL,omitempty"`
}

// PluggedCASpec names the Secret holding a plugged CA.
type PluggedCASpec struct {
	// SecretName is the Secret in the mesh namespace; Istio's name is cacerts.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	// +kubebuilder:default=cacerts
	// +optional
	SecretName string `json:"secretName,omitempty"`
}

// CertManagerCASpec configures mode CertManager.
type CertManagerCASpec struct {
	// IssuerRef is the cert-manager Issuer (in the mesh namespace) or ClusterIssuer that signs
	// workload certificates.
	IssuerRef IssuerReference `json:"issuerRef"`
}

// IssuerReference names a cert-manager issuer, as cert-manager's own issuerRef does.
type IssuerReference struct {
	// Name of the issuer.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Kind is Issuer or ClusterIssuer.
	// +kubebuilder:validation:Enum=Issuer;ClusterIssuer
	// +kubebuilder:default=Issuer
	// +optional
	Kind string `json:"kind,omitempty"`
	// Group of the issuer's API.
	// +kubebuilder:default=cert-manager.io
	// +optional
	Group string `json:"group,omitempty"`
}

// CAStatus is what the control plane reports about its certificate authority.
type CAStatus struct {
	// Mode the CA runs in.
	// +optional
	Mode CAMode `json:"mode,omitempty"`
	// RootExpiresAt is when the root certificate expires (the earliest, if several roots
	// are trusted).
	// +optional
	RootExpiresAt *metav1.Time `json:"rootExpiresAt,omitempty"`
	// SigningCertExpiresAt is when the certificate that signs workload certificates (the
	// intermediate) expires.
	// +optional
	SigningCertExpiresAt *metav1.Time `json:"signingCertExpiresAt,omitempty"`
	// RootRotation is set while the root is being rotated.
	// +optional
	RootRotation *RootRotationStatus `json:"rootRotation,omitempty"`
}

// RootRotationStatus is where a rotation of the root stands: the new root is in the trust
// bundle and the old one signs until every connected proxy holds the bundle
// (Distributing), then the new one signs and the old one stays trusted until no
// certificate it signed can still be valid (Retiring).
type RootRotationStatus struct {
	// +kubebuilder:validation:Enum=Distributing;Retiring
	Phase string `json:"phase"`
	// Message says what the rotation waits for.
	// +optional
	Message string `json:"message,omitempty"`
}

// CAStateConfigMap, in the mesh namespace, is where the control plane publishes the public
// state of its CA for the operator to report in status: certificates only, never a key.
const CAStateConfigMap = "loom-ca-state"

// Keys of CAStateConfigMap.
const (
	// CAStateKeyMode is the CA mode the control plane runs.
	CAStateKeyMode = "mode"
	// CAStateKeyRoots is the trust bundle (PEM).
	CAStateKeyRoots = "root-cert.pem"
	// CAStateKeyChain is the signing certificate up to the root (PEM).
	CAStateKeyChain = "cert-chain.pem"
	// CAStateKeyProblem is why the CA material could not be loaded ("" when it was); the CA
	// keeps signing with the last good material.
	CAStateKeyProblem = "problem"
	// CAStateKeyRootRotationPhase is the phase of a running rotation of the root (absent
	// when none runs): Distributing or Retiring.
	CAStateKeyRootRotationPhase = "root-rotation-phase"
	// CAStateKeyRootRotationMessage says what the running rotation waits for.
	CAStateKeyRootRotationMessage = "root-rotation-message"
)
