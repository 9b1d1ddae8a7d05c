package controllers

import (
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

// componentReady reports each component's readiness, next to controller-runtime's own
// reconcile metrics.
var componentReady = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "loom_operator_component_ready",
	Help: "1 when a mesh component is Ready at its desired version, 0 otherwise.",
}, []string{"mesh", "component", "kind"})

func init() {
	metrics.Registry.MustRegister(componentReady)
}

func recordComponents(mesh string, components []operatorv1alpha1.ComponentStatus) {
	componentReady.DeletePartialMatch(prometheus.Labels{"mesh": mesh})
	for _, c := range components {
		v := 0.0
		if c.Ready {
			v = 1
		}
		componentReady.WithLabelValues(mesh, c.Name, string(c.Kind)).Set(v)
	}
}

func forgetComponents(mesh string) {
	componentReady.DeletePartialMatch(prometheus.Labels{"mesh": mesh})
}

// emitConditionEvents records an Event for every condition that changed in a way worth
// telling (see announce).
func (r *MeshOperatorReconciler) emitConditionEvents(mesh *operatorv1alpha1.MeshOperator, before []metav1.Condition) {
	if r.Recorder == nil {
		return
	}
	for _, c := range mesh.Status.Conditions {
		eventType, ok := announce(meta.FindStatusCondition(before, c.Type), c)
		if !ok {
			continue
		}
		r.Recorder.Eventf(mesh, nil, eventType, c.Reason, "Reconcile", "%s=%s: %s", c.Type, c.Status, c.Message)
	}
}

// announce says whether a condition's change deserves an Event, and of which type: a change
// of status or reason does, and so does a new list of meshConfig fields that take no effect.
// Degraded=True and MeshConfigHonored=False are warnings.
func announce(old *metav1.Condition, c metav1.Condition) (string, bool) {
	changed := old == nil || old.Status != c.Status || old.Reason != c.Reason ||
		c.Type == operatorv1alpha1.ConditionMeshConfigHonored && old.Message != c.Message
	if !changed {
		return "", false
	}
	switch {
	case c.Type == operatorv1alpha1.ConditionDegraded && c.Status == metav1.ConditionTrue,
		c.Type == operatorv1alpha1.ConditionMeshConfigHonored && c.Status == metav1.ConditionFalse:
		return corev1.EventTypeWarning, true
	}
	return corev1.EventTypeNormal, true
}
