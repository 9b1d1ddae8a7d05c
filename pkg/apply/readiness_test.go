package apply

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestDeploymentReadiness(t *testing.T) {
	deploy := func(gen, observed int64, replicas, updated, available, total int32, conds ...appsv1.DeploymentCondition) *appsv1.Deployment {
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "cp", Generation: gen},
			Spec:       appsv1.DeploymentSpec{Replicas: ptr.To(replicas)},
			Status: appsv1.DeploymentStatus{ObservedGeneration: observed, UpdatedReplicas: updated,
				AvailableReplicas: available, Replicas: total, Conditions: conds},
		}
	}
	for _, tc := range []struct {
		name  string
		d     *appsv1.Deployment
		ready bool
		msg   string
	}{
		{"ready", deploy(2, 2, 2, 2, 2, 2), true, ""},
		{"spec not observed", deploy(3, 2, 2, 2, 2, 2), false, "observe its new spec"},
		{"rolling", deploy(2, 2, 3, 1, 3, 4), false, "1 of 3 replicas updated"},
		{"old replicas left", deploy(2, 2, 2, 2, 2, 3), false, "1 old replicas pending termination"},
		{"not available", deploy(2, 2, 2, 2, 1, 2), false, "1 of 2 updated replicas available"},
		{"deadline", deploy(2, 2, 2, 1, 1, 2, appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing,
			Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded", Message: "stuck"}), false, "exceeded its progress deadline: stuck"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := DeploymentReadiness(tc.d)
			if r.Ready != tc.ready || !strings.Contains(r.Message, tc.msg) || (tc.ready && r.Message != "") {
				t.Errorf("got %+v, want ready=%v message containing %q", r, tc.ready, tc.msg)
			}
		})
	}
}
