package apply

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// Readiness of an applied object at its current spec.
type Readiness struct {
	Ready bool
	// Desired and Updated count a workload's pods: those it should run, and those that run
	// the current spec and are available. Both are 0 for kinds that run no pods.
	Desired int32
	Updated int32
	// Message says what the object waits for, or why it failed; empty when Ready.
	Message string
}

// ReadinessOf judges a live object with kstatus (sigs.k8s.io/cli-utils), the status library
// of cli-utils' applier, kpt and Flux: it is Ready when kstatus computes Current (the controller observed the latest spec
// and, for a workload, every replica is updated and available; a Job runs or completed; a
// CRD is established). Otherwise the message is kstatus's, prefixed with the object.
func ReadinessOf(obj *unstructured.Unstructured) (Readiness, error) {
	res, err := status.Compute(obj)
	if err != nil {
		return Readiness{}, fmt.Errorf("judging %s: %w", Describe(obj), err)
	}
	r := replicas(obj)
	switch res.Status {
	case status.CurrentStatus:
		r.Ready = true
	case status.FailedStatus:
		r.Message = fmt.Sprintf("%s failed: %s", Describe(obj), res.Message)
	default:
		r.Message = fmt.Sprintf("%s is %s: %s", Describe(obj), res.Status, res.Message)
	}
	return r, nil
}

// replicas reads the pod counts a workload reports; kstatus judges, this only counts.
func replicas(obj *unstructured.Unstructured) Readiness {
	count := func(fields ...string) int32 {
		v, _, _ := unstructured.NestedInt64(obj.Object, fields...)
		return int32(v)
	}
	if obj.GroupVersionKind().Group != "apps" {
		return Readiness{} // a Job's pods run to completion; other kinds run none
	}
	switch obj.GetKind() {
	case "DaemonSet":
		return Readiness{
			Desired: count("status", "desiredNumberScheduled"),
			Updated: min(count("status", "updatedNumberScheduled"), count("status", "numberAvailable")),
		}
	case "Deployment", "StatefulSet", "ReplicaSet":
		desired := int32(1) // the API's default
		if v, ok, _ := unstructured.NestedInt64(obj.Object, "spec", "replicas"); ok {
			desired = int32(v)
		}
		return Readiness{Desired: desired, Updated: min(count("status", "updatedReplicas"), count("status", "availableReplicas"))}
	}
	return Readiness{}
}
