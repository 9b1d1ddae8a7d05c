package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// RateLimitPolicy limits the rate of HTTP requests a workload's proxy lets
// in, with a token bucket per rule (and per client when asked).
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=rlp,categories=loom
// +kubebuilder:printcolumn:name="Accepted",type=string,JSONPath=`.status.conditions[?(@.type=="Accepted")].status`
// +kubebuilder:printcolumn:name="Reconciled",type=string,JSONPath=`.status.conditions[?(@.type=="Reconciled")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type RateLimitPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec RateLimitPolicySpec `json:"spec"`
	// Status is written by the control plane in the format it writes on every
	// kind it serves (Istio's IstioStatus): conditions Accepted (the spec is
	// valid; the message names each problem by field) and Reconciled (how many
	// of the proxies the policy applies to run it; reason Programmed when all
	// do), and observedGeneration. The schema is open, as in Istio's CRDs.
	// +optional
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	Status *runtime.RawExtension `json:"status,omitempty"`
}

// RateLimitPolicyList is a list of RateLimitPolicy.
// +kubebuilder:object:root=true
type RateLimitPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []RateLimitPolicy `json:"items"`
}

// RateLimitPolicySpec picks workloads (selector or targetRefs, not both;
// neither: every workload of the namespace) and the rules their proxies apply.
// +kubebuilder:validation:XValidation:rule="!has(self.selector) || !has(self.targetRefs) || size(self.targetRefs) == 0",message="set selector or targetRefs, not both"
type RateLimitPolicySpec struct {
	// Selector picks the workloads of the policy's namespace by pod labels.
	// +optional
	Selector *WorkloadSelector `json:"selector,omitempty"`
	// TargetRefs pick the workloads the named Services of the policy's
	// namespace select.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	TargetRefs []TargetRef `json:"targetRefs,omitempty"`
	// Rules are applied independently: a request is rejected when any rule
	// it matches has no token left.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	Rules []RateLimitRule `json:"rules"`
}

// WorkloadSelector selects workloads by their labels.
type WorkloadSelector struct {
	// MatchLabels must all be present, with these values, on a workload.
	// +kubebuilder:validation:MaxProperties=16
	MatchLabels map[string]string `json:"matchLabels"`
}

// TargetRef names a Service in the policy's namespace.
type TargetRef struct {
	// Kind of the target: Service.
	// +kubebuilder:validation:Enum=Service
	Kind string `json:"kind"`
	// Name of the Service.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// RateLimitRule is one token bucket and the requests that draw from it.
type RateLimitRule struct {
	Limit Limit `json:"limit"`
	// Match restricts the rule to some requests; without it, every request.
	// +optional
	Match *RequestMatch `json:"match,omitempty"`
	// PerClient gives every distinct client its own bucket.
	// +optional
	PerClient *PerClient `json:"perClient,omitempty"`
	// Response is what a rejected request gets.
	// +optional
	Response *RateLimitResponse `json:"response,omitempty"`
}

// Limit is a token bucket: requests tokens are added every unit, up to burst.
// +kubebuilder:validation:XValidation:rule="!has(self.burst) || self.burst >= self.requests",message="burst must be at least requests"
type Limit struct {
	// Requests allowed per unit.
	// +kubebuilder:validation:Minimum=1
	Requests int32 `json:"requests"`
	// Unit of time the requests are counted over.
	// +kubebuilder:validation:Enum=Second;Minute;Hour
	Unit string `json:"unit"`
	// Burst is the bucket's size (requests if unset).
	// +optional
	// +kubebuilder:validation:Minimum=1
	Burst *int32 `json:"burst,omitempty"`
}

// RequestMatch is what a request must have for a rule to apply: all of it.
type RequestMatch struct {
	// RouteName restricts the rule to requests routed by the VirtualService
	// http route of this name (the HTTPRoute's name field; a route delegated
	// to another VirtualService is named as Istio names it: the root route's
	// name, "-", the delegate route's name). Only gateways route requests by
	// VirtualService http routes: on a sidecar, or on a gateway that serves
	// no route of this name, the rule limits nothing and the policy reports
	// it. Envoy keeps a bucket per route it is given: a named route with
	// several matches, or served for several hosts or ports, has a bucket for
	// each.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	RouteName string `json:"routeName,omitempty"`
	// Path of the request, without the query string.
	// +optional
	Path *StringMatch `json:"path,omitempty"`
	// Method of the request, e.g. GET.
	// +optional
	// +kubebuilder:validation:Pattern=`^[A-Z]+$`
	// +kubebuilder:validation:MaxLength=32
	Method string `json:"method,omitempty"`
	// Headers the request must carry.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	Headers []HeaderMatch `json:"headers,omitempty"`
}

// StringMatch matches a value exactly or by prefix: set one.
// +kubebuilder:validation:XValidation:rule="has(self.exact) != has(self.prefix)",message="set exactly one of exact or prefix"
type StringMatch struct {
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Exact string `json:"exact,omitempty"`
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Prefix string `json:"prefix,omitempty"`
}

// HeaderMatch matches a request header's value exactly or by prefix: set one.
// +kubebuilder:validation:XValidation:rule="has(self.exact) != has(self.prefix)",message="set exactly one of exact or prefix"
type HeaderMatch struct {
	// Name of the header (case-insensitive).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9!#$%&'*+.^_|~-]+$`
	Name string `json:"name"`
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Exact string `json:"exact,omitempty"`
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Prefix string `json:"prefix,omitempty"`
}

// PerClient keys the bucket on the client: set one.
// +kubebuilder:validation:XValidation:rule="(has(self.sourcePrincipal) && self.sourcePrincipal) != has(self.header)",message="set exactly one of sourcePrincipal: true or header"
type PerClient struct {
	// SourcePrincipal keys on the client's mTLS identity (the URI SAN of its certificate).
	// +optional
	SourcePrincipal bool `json:"sourcePrincipal,omitempty"`
	// Header keys on the value of this request header.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9!#$%&'*+.^_|~-]+$`
	Header string `json:"header,omitempty"`
}

// RateLimitResponse is the response to a rejected request.
type RateLimitResponse struct {
	// Status code (429 if unset).
	// +optional
	// +kubebuilder:default=429
	// +kubebuilder:validation:Minimum=400
	// +kubebuilder:validation:Maximum=599
	Status int32 `json:"status,omitempty"`
	// Headers added to the response.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	Headers []HeaderValue `json:"headers,omitempty"`
}

// HeaderValue is a response header.
type HeaderValue struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9!#$%&'*+.^_|~-]+$`
	Name string `json:"name"`
	// +kubebuilder:validation:MaxLength=4096
	Value string `json:"value"`
}
