package validation

import "fmt"

// Istio's internal annotations that no stored object may carry: AlwaysReject is how a
// control plane checks that the apiserver reaches its validator (a dry-run object carrying it
// must be denied), InternalParentNamespace would grant another namespace's privileges.
const (
	AlwaysRejectAnnotation            = "internal.istio.io/webhook-always-reject"
	internalParentNamespaceAnnotation = "internal.istio.io/parent"
)

// Metadata applies Istio's rules on an object's metadata, which hold for every kind.
func Metadata(obj Object) Result {
	var r Result
	if _, ok := obj.Annotations[AlwaysRejectAnnotation]; ok {
		r.Errors = append(r.Errors, Finding{Field: fmt.Sprintf("metadata.annotations[%s]", AlwaysRejectAnnotation),
			Message: "annotation found, rejecting"})
	}
	if _, ok := obj.Annotations[internalParentNamespaceAnnotation]; ok {
		r.Errors = append(r.Errors, Finding{Field: fmt.Sprintf("metadata.annotations[%s]", internalParentNamespaceAnnotation),
			Message: "annotation found, this may not be set by users"})
	}
	return r
}
