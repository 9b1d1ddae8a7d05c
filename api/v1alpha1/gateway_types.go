package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
)

// GatewayType says which way a gateway's traffic flows.
// +kubebuilder:validation:Enum=Ingress;Egress
type GatewayType string

// Gateway types.
const (
	IngressGateway GatewayType = "Ingress"
	EgressGateway  GatewayType = "Egress"
)

// GatewaySpec is an Envoy gateway Deployment and Service bootstrapped to the control plane.
type GatewaySpec struct {
	// Name of the gateway's Deployment and Service.
	// +kubebuilder:validation:MaxLength=50
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// Namespace of the gateway; defaults to spec.namespace.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// Type is Ingress or Egress.
	Type GatewayType `json:"type"`

	// Service exposes the gateway.
	// +optional
	Service GatewayServiceSpec `json:"service,omitempty"`

	// Replicas when autoscaling is off; the profile decides when unset.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`

	// Autoscaling runs a HorizontalPodAutoscaler on CPU use.
	// +optional
	Autoscaling *AutoscalingSpec `json:"autoscaling,omitempty"`

	// Labels are added to the gateway's pods; Istio Gateway resources select gateways by them.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// Resources of the gateway's proxy container.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
}

// GatewayServiceSpec configures a gateway's Service.
type GatewayServiceSpec struct {
	// Type of the Service; defaults to LoadBalancer for ingress and ClusterIP for egress.
	// +kubebuilder:validation:Enum=ClusterIP;NodePort;LoadBalancer
	// +optional
	Type corev1.ServiceType `json:"type,omitempty"`

	// Ports of the Service; defaults to http2 80 and https 443.
	// +listType=map
	// +listMapKey=port
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Ports []GatewayPort `json:"ports,omitempty"`
}

// GatewayPort is a port of a gateway's Service.
type GatewayPort struct {
	// Name of the port; its prefix names the protocol, as Istio expects (http, http2, https, tcp, tls, grpc).
	// +kubebuilder:validation:MaxLength=15
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`
	// Port the Service listens on.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port"`
	// TargetPort the proxy listens on; defaults to Port, or Port+8000 below 1024 so that the
	// proxy needs no privilege.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	TargetPort int32 `json:"targetPort,omitempty"`
	// NodePort for NodePort and LoadBalancer Services; allocated when unset.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	NodePort int32 `json:"nodePort,omitempty"`
}
