package apply

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// Readiness of a workload at its current spec.
type Readiness struct {
	Ready   bool
	Desired int32
	// Updated counts pods that run the current spec and are available.
	Updated int32
	Message string
}

// DeploymentReadiness judges a Deployment the way `kubectl rollout status` does: the
// controller has seen the current spec, every replica is updated and available, and no old
// replica is left.
func DeploymentReadiness(d *appsv1.Deployment) Readiness {
	desired := int32(1)
	if d.Spec.Replicas != nil {
		desired = *d.Spec.Replicas
	}
	st := d.Status
	r := Readiness{Desired: desired, Updated: min(st.UpdatedReplicas, st.AvailableReplicas)}
	for _, c := range st.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded" {
			r.Message = fmt.Sprintf("Deployment %s/%s exceeded its progress deadline: %s", d.Namespace, d.Name, c.Message)
			return r
		}
	}
	switch {
	case st.ObservedGeneration < d.Generation:
		r.Message = fmt.Sprintf("waiting for Deployment %s/%s to observe its new spec", d.Namespace, d.Name)
	case st.UpdatedReplicas < desired:
		r.Message = fmt.Sprintf("Deployment %s/%s: %d of %d replicas updated", d.Namespace, d.Name, st.UpdatedReplicas, desired)
	case st.Replicas > st.UpdatedReplicas:
		r.Message = fmt.Sprintf("Deployment %s/%s: %d old replicas pending termination", d.Namespace, d.Name, st.Replicas-st.UpdatedReplicas)
	case st.AvailableReplicas < desired:
		r.Message = fmt.Sprintf("Deployment %s/%s: %d of %d updated replicas available", d.Namespace, d.Name, st.AvailableReplicas, desired)
	default:
		r.Ready = true
	}
	return r
}
