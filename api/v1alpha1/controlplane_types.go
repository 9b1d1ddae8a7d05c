package v1alpha1

import corev1 "k8s.io/api/core/v1"

// ControlPlaneSpec configures the control-plane Deployment.
type ControlPlaneSpec struct {
	// Replicas is the number of control-plane pods when autoscaling is off; the profile
	// decides when unset (production: 2).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=20
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`

	// Resources of the control-plane container; the profile decides when unset.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// Autoscaling runs a HorizontalPodAutoscaler on CPU use.
	// +optional
	Autoscaling *AutoscalingSpec `json:"autoscaling,omitempty"`

	// NodeSelector constrains the nodes control-plane pods run on.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// Tolerations of the control-plane pods.
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// Affinity of the control-plane pods; the production profile adds pod anti-affinity
	// across nodes when unset.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`

	// LogLevel of the control plane.
	// +kubebuilder:validation:Enum=debug;info;warn;error
	// +kubebuilder:default=info
	// +optional
	LogLevel string `json:"logLevel,omitempty"`

	// Env adds environment variables to the control-plane container.
	// +optional
	Env []corev1.EnvVar `json:"env,omitempty"`
}

// AutoscalingSpec configures a HorizontalPodAutoscaler.
// +kubebuilder:validation:XValidation:rule="!has(self.minReplicas) || self.maxReplicas >= self.minReplicas",message="maxReplicas must be at least minReplicas"
type AutoscalingSpec struct {
	// Enabled turns the HorizontalPodAutoscaler on.
	Enabled bool `json:"enabled"`
	// MinReplicas is the lower bound; defaults to the component's replicas.
	// +kubebuilder:validation:Minimum=1
	// +optional
	MinReplicas *int32 `json:"minReplicas,omitempty"`
	// MaxReplicas is the upper bound.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +kubebuilder:default=5
	// +optional
	MaxReplicas int32 `json:"maxReplicas,omitempty"`
	// TargetCPUUtilizationPercentage is the average CPU use, in percent of requests, to aim at.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +kubebuilder:default=80
	// +optional
	TargetCPUUtilizationPercentage int32 `json:"targetCPUUtilizationPercentage,omitempty"`
}
